"""The launcher's stderr as the user sees it: each rank's lines once, the causes of a
failure at the end, the launcher's own noise dropped."""

from __future__ import annotations

import re
from typing import Any

# What the other ranks report when one rank dies: consequences, not causes.
_COLLATERAL = (
    "Connection closed by peer",
    "Connection reset by peer",
    "remote worker",
    "DistBackendError",
    "NCCL communicator was aborted",
    "ProcessGroupNCCL",
    "Socket Timeout",
)
_LAUNCHER_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")


class RankOutput:
    """The launcher's stderr, cleaned as it arrives: the ranks' own lines pass at once, each
    line once; the launcher's log lines are dropped, and so is its report of a failed rank
    (a traceback), while the ranks' ``error:`` lines are held to the end, where only the
    causes are shown (not a rank that just saw another one die, nor 'interrupted' from
    ranks the launcher stopped after an error)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.seen: set[str] = set()
        self.held: list[str] = []  # error: and interrupted lines
        self.report: list[str] | None = None  # from a traceback on: the launcher's report?

    def read(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            self.feed(raw.decode("utf-8", "replace"))
        stream.close()

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if line.startswith(("Traceback (most recent call last):", "=====")) and self.report is None:
            self.report = []
        if _LAUNCHER_LOG.match(line) or line.startswith("*****") or "OMP_NUM_THREADS" in line:
            return
        if line in self.seen:
            return
        self.seen.add(line)
        if line.startswith("error: ") or line.strip() == "interrupted":
            self.held.append(line)
        elif self.report is not None:
            self.report.append(line)
        else:
            self._write([line])

    def finish(self, code: int) -> None:
        if self.report and code == 0:  # not the launcher's report of a failure after all
            self._write(self.report)
        self._write(_causes(self.held, code))

    def _write(self, lines: list[str]) -> None:
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()


def _causes(held: list[str], code: int) -> list[str]:
    kept = list(held)
    if any(line.startswith("error: ") for line in kept):
        kept = [line for line in kept if line.strip() != "interrupted"]
    errors = [line for line in kept if line.startswith("error: ")]
    causes = [line for line in errors if not any(m in line for m in _COLLATERAL)]
    if causes and len(causes) < len(errors):  # a rank that only saw another one die
        kept = [line for line in kept if line in causes or not line.startswith("error: ")]
    if code not in (0, 130) and not any(line.startswith("error: ") for line in kept):
        kept.append(
            f"error: a process of the run failed (the launcher exited with code {code}); "
            "rerun with --debug for its report"
        )
    return kept


def rank_messages(text: str, code: int) -> str:
    """`text` (the launcher's whole stderr) as `RankOutput` shows it."""
    import io

    out = io.StringIO()
    output = RankOutput(out)
    for line in text.splitlines():
        output.feed(line)
    output.finish(code)
    return out.getvalue()
