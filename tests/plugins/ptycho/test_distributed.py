"""ptycho.train in two processes on CPU (gloo): DDP over each rank's share of the groups."""

from __future__ import annotations

import json

from tests.conftest import invoke
from tests.plugins.ptycho.conftest import TINY


def test_two_ranks_train_the_pinn_and_rank_0_writes_the_bundle(tmp_path):
    result = invoke(
        "run", "ptycho.train", "--nproc-per-node", "2", "--artifact-root", str(tmp_path),
        "--run-id", "two", *TINY, "--n-filters-scale", "0.25", "--max-epochs", "3",
        "--batch-size", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run_dir = tmp_path / "two"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["distributed"]["world_size"] == 2
    rows = (run_dir / "train" / "history.csv").read_text().splitlines()[1:]
    train_loss = [float(r.split(",")[1]) for r in rows]
    assert len(train_loss) == 3 and train_loss[-1] < train_loss[0]
    outputs = {o["path"] for o in manifest["steps"]["ptycho.train"]["outputs"]}
    assert {"train/history.csv", "model/bundle.zip", "checkpoints/last.safetensors"} <= outputs
