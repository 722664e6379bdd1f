"""Ctrl+C or SIGTERM: the step in progress finishes, a checkpoint is saved, resume is exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.plugins.lm.conftest import TINY, losses, run_lm

# A constant learning rate: the schedule then does not depend on --max-steps, so a run
# cut short can be compared with a shorter uninterrupted one.
CONSTANT = ["--warmup-steps", "0", "--learning-rate", "0.005", "--min-lr", "0.005",
            "--eval-cadence", "1000000", "--checkpoint-cadence", "1000000",
            "--sampling-cadence", "0"]  # fmt: skip


def start_training(root, corpus) -> subprocess.Popen:
    """`framework run lm.train` in a child process, returned once it has logged 3 steps."""
    args = ["run", "lm.train", "--artifact-root", str(root), "--run-id", "cut", *TINY, *CONSTANT,
            "--max-steps", "1000000", "--data", str(corpus)]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "framework", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # as in this process: same float sums
    )
    deadline = time.monotonic() + 120
    while not any(s >= 3 for s in _logged_steps(root / "cut")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "training never logged 3 steps"
        time.sleep(0.05)
    return proc


def _logged_steps(run_dir) -> list[int]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    steps = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line still being written
            continue
        if record["event"] == "metrics" and "loss" in record["fields"]:
            steps.append(record["fields"]["step"])
    return steps


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_a_checkpoint_and_resume_continues_exactly(sig, tmp_path, corpus):
    proc = start_training(tmp_path, corpus)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)

    assert proc.returncode == 130, err
    resume = err.split("resume with: ")[1].strip().splitlines()[0]
    assert resume.startswith(f"framework run lm.train --artifact-root {tmp_path} --run-id cut")
    assert f"--data {corpus}" in resume  # the user's options, so data and shapes match
    assert resume.endswith("--resume cut")
    assert "Traceback" not in err
    run_dir = tmp_path / "cut"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["steps"]["lm.train"]["status"] == "failed"  # never recorded as done
    state = torch.load(run_dir / "checkpoints/last.pt", weights_only=True)
    k = state["step"]
    assert k == max(losses(run_dir)) >= 3

    resumed = run_lm("lm.train", tmp_path, "cut", *CONSTANT, "--max-steps", str(k + 3),
                     "--resume", "cut", data=corpus)  # fmt: skip
    assert resumed.exit_code == 0, resumed.stderr
    reference = run_lm("lm.train", tmp_path, "whole", *CONSTANT, "--max-steps", str(k + 3),
                       data=corpus)  # fmt: skip
    assert reference.exit_code == 0, reference.stderr
    assert losses(run_dir) == losses(tmp_path / "whole")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["steps"]["lm.train"]["status"] == "completed"
