"""One job in a process of its own: what the process, Slurm and Ray executors run.

The request arrives as plain JSON-able data; the worker builds its own plugin manager
from entry points (so it needs the same packages installed as the submitting machine)
and answers with plain data too. `python -m framework.builtin.executors.worker REQUEST.json RESULT.json`
is the command-line form the process executor uses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import attrs

from framework.runner import RunRequest


def request_to_dict(request: RunRequest) -> dict[str, Any]:
    return attrs.asdict(request)


def portable(request: RunRequest) -> RunRequest:
    """The request with absolute paths: a worker elsewhere starts in another directory."""
    from framework.runner import artifact_root

    root = str(artifact_root(request.artifact_root).resolve())
    config = str(Path(request.config_file).resolve()) if request.config_file else None
    return attrs.evolve(request, artifact_root=root, config_file=config)


def request_from_dict(data: dict[str, Any]) -> RunRequest:
    data = dict(data)
    data["flags"] = {name: tuple(pair) for name, pair in data.get("flags", {}).items()}
    return RunRequest(**data)


def run_in_worker(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request here; never raises for a failed job (the answer says how it ended).

    Answer: ``{run_id, status, error, exit_code, where, traceback}``.
    """
    import traceback

    from framework.builtin.executors.batch import here
    from framework.errors import FrameworkError
    from framework.plugins import Plugins
    from framework.runner import run_job

    req = request_from_dict(request)
    answer: dict[str, Any] = {
        "run_id": req.run_id,
        "status": "failed",
        "error": None,
        "exit_code": 1,
        "where": here(),
        "traceback": None,
    }
    try:
        outcome = run_job(req, Plugins())
        answer.update(run_id=outcome.run_id, status=outcome.status, exit_code=0)
    except KeyboardInterrupt:
        answer.update(status="interrupted", error="interrupted", exit_code=130)
    except Exception as exc:
        answer.update(
            error=str(exc),
            exit_code=exc.exit_code if isinstance(exc, FrameworkError) else 1,
            traceback=traceback.format_exc(),
        )
    return answer


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -m framework.builtin.executors.worker REQUEST.json RESULT.json",
            file=sys.stderr,
        )
        return 2
    request = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    answer = run_in_worker(request)
    if answer.get("error"):
        print(f"error: {answer['error']}", file=sys.stderr)
        if answer.get("traceback"):
            print(answer["traceback"], file=sys.stderr)
    out = Path(args[1])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(answer), encoding="utf-8")
    tmp.replace(out)  # the answer appears whole or not at all
    return int(answer["exit_code"])


if __name__ == "__main__":
    sys.exit(main())
