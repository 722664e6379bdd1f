"""What lm shows and tracks: progress lines while training, the samples, trackers on resume."""

from __future__ import annotations

import re
import shutil

from tests.conftest import invoke
from tests.plugins.lm.conftest import run_lm

PROGRESS = re.compile(r"^  lm\.train: (\d+)/20 \(\d+%\)  [\d.,]+ step/s  (eta|took) [\d:]+  loss=")


def test_training_prints_progress_lines_with_its_metrics_off_a_terminal(corpus, tmp_path):
    result = run_lm("lm.train", tmp_path, "p", "--max-steps", "20", "--no-quiet",
                    "--progress-interval-s", "0", data=corpus)  # fmt: skip

    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if PROGRESS.match(line)]
    assert [int(PROGRESS.match(line).group(1)) for line in lines][-1] == 20
    assert all("tokens_per_s=" in line for line in lines[1:])


def test_sample_prints_the_samples_and_where_they_are_saved(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "e2e")
    result = invoke("run", "lm.sample", "--artifact-root", str(tmp_path), "--run-id", "e2e",
                    "--only", "--force", "--max-new-tokens", "40")  # fmt: skip

    assert result.exit_code == 0, result.stderr
    saved = tmp_path / "e2e" / "samples.txt"
    assert saved.read_text().strip() in result.stdout
    assert "--- sample 1 of 1" in result.stdout
    assert f"saved to {saved}" in result.stdout


def test_resume_continues_the_mlflow_run_and_the_tensorboard_step_axis(
    corpus, isolated, mlflow_store
):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = isolated / "runs"
    tracking = ["--tracker", "mlflow,tensorboard", "--eval-cadence", "10"]
    first = run_lm("lm.train", root, "r", "--max-steps", "10", *tracking, data=corpus)
    again = run_lm("lm.train", root, "r", "--max-steps", "20", "--resume", "r", *tracking,
                   data=corpus)  # fmt: skip

    assert first.exit_code == 0 and again.exit_code == 0, first.stderr + again.stderr
    assert first.stderr == again.stderr == ""
    client = MlflowClient(tracking_uri=f"sqlite:///{mlflow_store}")
    experiment = client.get_experiment_by_name("lm.train")
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [m.step for m in history] == list(range(1, 21))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/val_loss")] == [
        10,
        20,
    ]
    assert run.info.status == "FINISHED"
    assert "loss_curve.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
    events = EventAccumulator(str(root / "r" / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, 21))
