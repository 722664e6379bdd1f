"""Run the commands the documentation shows, so the docs cannot drift from the code.

A command meant to run sits in a fenced block whose info string is ``console``, one
command a line after a ``$ `` prompt (a trailing backslash continues it on the next
line); the lines without a prompt are example output and are not checked. Blocks of any
other kind (``bash``, ``yaml``, ``text``, indented ones) are illustrations and never run.

A console block preceded by the comment ``<!-- docs-test: skip REASON -->`` is not run;
the reason is required (a cluster, a GPU, your own data, minutes of compute). A block of
any kind preceded by ``<!-- docs-test: file NAME -->`` is written to NAME before the
page's later commands run (a config file they read). Every other command runs in this
process, in order, page by page, each page in a directory of its own, and must exit 0.
The pages share one artifact root, so a step a page repeats with the same settings is
reused from the store rather than computed again, as it would be for a reader.

Commands run with tiny settings, so the whole set takes seconds: the values of the flags
in ``SHRINK`` are replaced (fewer training steps, epochs and iterations), the config
fields in ``TINY`` are set through their ``FRAMEWORK_<FIELD>`` environment variables
(which a flag the page shows still overrides), and ``--artifact-root`` and
``FRAMEWORK_ARTIFACT_ROOT`` point into the page's directory, as does a path argument
under ``runs/`` (the default artifact root). Nothing else is changed, so
a renamed option, step or command fails the test.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

# flag -> the value a docs test uses instead of the one the page shows
SHRINK = {"--max-steps": "4", "--max-epochs": "1", "--iterations": "2"}
# config field -> its value when the command does not set it (FRAMEWORK_<FIELD>)
TINY = {
    "max_steps": "4",  # lm: optimizer steps
    "eval_cadence": "2",
    "eval_batches": "1",
    "eval_windows": "4",
    "max_new_tokens": "16",
    # lm: a page of these docs as the corpus (the bundled 4.3 M-character Bible takes
    # seconds to tokenize; tests/plugins/lm read it), a one-block model, 32 wide
    "data": str(REPO / "docs" / "concepts.md"),
    "n_layer": "1",
    "n_embd": "32",
    "n_head": "2",
    "block_size": "16",
    "max_epochs": "1",  # ptycho: PINN epochs, then the iterative baseline's iterations
    "iterations": "2",
    "object_size": "128",
    "n_filters_scale": "0.25",
    "n_groups": "8",
    "inference_groups": "cover",
    "synthetic_samples": "120",  # classifier: generated images, when asked for
    "quiet": "1",  # no progress bars in the test log
}
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b\s*(.*?)\s*-->")
FILE = re.compile(r"<!--\s*docs-test:\s*file\s+(\S+)\s*-->")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w-]*)")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    info: str
    lines: list[str]
    skip: str | None = None  # the reason, when marked not to run
    file: str | None = None  # where to write the block, when marked as a file
    commands: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """Every fenced block of `page`, with the skip mark that precedes it, if any."""
    text = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(text):
        m = FENCE.match(text[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group(2), m.group(3), i
        body = []
        i += 1
        while i < len(text) and not text[i].strip().startswith(fence):
            body.append(text[i][len(m.group(1)) :])
            i += 1
        previous = next((t for t in reversed(text[:start]) if t.strip()), "")
        mark, file = SKIP.search(previous), FILE.search(previous)
        block = Block(page, start + 1, info, body, mark.group(1) if mark else None)
        block.file = file.group(1) if file else None
        block.commands = commands(body) if info == "console" else []
        yield block
        i += 1


def commands(lines: list[str]) -> list[str]:
    """The ``$ `` commands of a console block, continuation lines joined."""
    found: list[str] = []
    pending: str | None = None
    for line in lines:
        if pending is not None:
            pending += " " + line.strip()
        elif line.startswith("$ "):
            pending = line[2:].strip()
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        found.append(pending)
        pending = None
    if pending is not None:
        found.append(pending)
    return found


def argv(command: str, artifact_root: Path) -> list[str]:
    """The arguments after ``framework``, shrunk to tiny settings."""
    words = shlex.split(command, comments=True)
    if not words or words[0] != "framework":
        raise ValueError(f"a console command must start with 'framework': {command!r}")
    out = []
    words = words[1:]
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, _ = word.partition("=")
        if name in SHRINK or name == "--artifact-root":
            value = SHRINK.get(name, str(artifact_root))
            out.append(f"{name}={value}" if eq else name)
            if not eq:
                out.append(value)
                i += 1
        elif word.startswith("runs/"):  # a path inside the reader's artifact root
            out.append(str(artifact_root / word.removeprefix("runs/")))
        else:
            out.append(word)
        i += 1
    return out
