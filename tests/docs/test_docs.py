"""The documentation builds without a warning, and every command it shows as runnable runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.docs.harness import PAGES, REPO, SHRINK, TINY, argv, blocks, commands

RUNNABLE = [page for page in PAGES if any(b.commands and not b.skip for b in blocks(page))]


def test_the_site_builds_strictly(tmp_path):
    """A broken link, a missing page or an anchor that does not exist fails the build."""
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )

    assert proc.returncode == 0, proc.stderr
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    for generated in ("framework list-steps", "framework completion", "--artifact-root"):
        assert generated in cli  # the reference is generated from the commands
    hooks = (tmp_path / "site" / "writing-plugins" / "index.html").read_text()
    assert "register_steps" in hooks and "on_metrics" in hooks
    architecture = (tmp_path / "site" / "architecture" / "index.html").read_text()
    assert "framework.builtin.completion" in architecture and "register_sweeps" in architecture


def test_the_readme_stays_short_and_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    first = [line.strip() for line in text.splitlines() if line.strip()][1:3]

    assert len(text.encode()) <= 12 * 1024
    assert first[0].startswith("make demo") and first[1].startswith("make test")


def test_every_page_is_in_the_navigation():
    nav = (REPO / "mkdocs.yml").read_text()
    pages = [p.relative_to(REPO / "docs").as_posix() for p in PAGES if p.name != "README.md"]

    assert pages and all(page in nav for page in pages)


def test_every_skipped_block_says_why():
    for page in PAGES:
        for block in blocks(page):
            if block.skip is not None:
                assert block.info == "console", (
                    f"{block.where()}: skip mark before a non-console block"
                )
                assert block.skip.strip(), f"{block.where()}: a skipped block needs a reason"


def test_no_page_runs_an_ambiguous_short_name():
    """`framework run evaluate` matches several plugins' steps: the docs use unique names."""
    for page in PAGES:
        for block in blocks(page):
            for command in block.commands:
                assert not command.startswith("framework run evaluate"), block.where()


# -- the harness itself ------------------------------------------------------------------


def test_the_harness_reads_prompts_continuations_and_skip_marks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```console\n$ framework run a \\\n    --max-steps 300  # note\noutput line\n"
        "$ framework show latest\n```\n\n<!-- docs-test: skip needs a GPU -->\n```console\n"
        "$ framework run b\n```\n\n```bash\nframework run c\n```\n"
    )

    found = list(blocks(page))

    assert [b.info for b in found] == ["console", "console", "bash"]
    assert found[0].commands == ["framework run a --max-steps 300  # note", "framework show latest"]
    assert found[0].skip is None and found[1].skip == "needs a GPU" and found[2].commands == []
    assert argv(found[0].commands[0], tmp_path) == [
        "run",
        "a",
        "--max-steps",
        SHRINK["--max-steps"],
    ]
    assert argv("framework run a --artifact-root=runs", tmp_path) == [
        "run",
        "a",
        f"--artifact-root={tmp_path}",
    ]
    assert argv("framework verify runs/a/manifest.json", tmp_path) == [
        "verify",
        str(tmp_path / "a" / "manifest.json"),
    ]
    assert commands(["$ framework x \\"]) == ["framework x"]
    with pytest.raises(ValueError, match="must start with 'framework'"):
        argv("make demo", tmp_path)


# -- every runnable command ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory) -> Path:
    """One artifact root for every page, as one reader's machine has."""
    return tmp_path_factory.mktemp("docs-runs")


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.relative_to(REPO).as_posix())
def test_the_commands_a_page_shows_run(page: Path, shared_root, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_ARTIFACT_ROOT", str(shared_root))
    for name, value in TINY.items():
        monkeypatch.setenv(f"FRAMEWORK_{name.upper()}", value)
    for block in blocks(page):
        if block.file is not None:
            (tmp_path / block.file).write_text("\n".join(block.lines) + "\n")
        if block.skip is not None:
            continue
        for command in block.commands:
            result = invoke(*argv(command, shared_root))
            assert result.exit_code == 0, f"{block.where()}: {command}\n{result.stderr[-2000:]}"
