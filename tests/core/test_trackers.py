"""Experiment trackers on the lifecycle hooks, written and read back with the real libraries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_manifest

STEP = """
import struct
import zlib

import attrs
from framework import Step, field, hookimpl


@attrs.define
class FitConfig:
    size: int = field(5, min=1, help="steps to log")
    rate: float = field(0.5, help="a parameter the tracker records")


def png(width, height):
    rows = b"".join(b"\\x00" + b"\\x80" * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def fit(ctx):
    for i in range(ctx.config.size):
        ctx.log_metrics(step=i, loss=1.0 / (i + 1))
    ctx.log_metrics(accuracy=0.75)
    ctx.write_bytes("plots/curve.png", png(4, 3))


@hookimpl
def register_steps(register):
    register(
        Step(
            id="track.fit",
            run=__name__ + ":fit",
            config=__name__ + ":FitConfig",
            outputs=["plots/curve.png"],
        )
    )
"""


@pytest.fixture
def fitting(plugin_site):
    return plugin_site.add("track", STEP)


def mlflow_client(db):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


def mlflow_runs(db, experiment: str) -> list:
    client = mlflow_client(db)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, [e.name for e in client.search_experiments()]
    return client.search_runs([found.experiment_id])


def tensorboard(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return events


@pytest.fixture
def tracked(cli, fitting, mlflow_store, isolated):
    """One run sent to both trackers (the option repeated); returns its run dir."""
    result = cli(
        "run", "track.fit", "--run-id", "t1", "--rate", "0.25",
        "--tracker", "mlflow", "--tracker", "tensorboard",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return isolated / "runs" / "t1"


def test_mlflow_holds_one_run_with_tags_params_metric_histories_and_artifacts(
    tracked, mlflow_store
):
    (run,) = mlflow_runs(mlflow_store, "track.fit")
    manifest = read_manifest(tracked)
    client = mlflow_client(mlflow_store)

    assert run.info.status == "FINISHED"
    assert run.data.tags["framework.run_id"] == "t1"
    assert run.data.tags["framework.step"] == "track.fit"
    assert run.data.tags["framework.plugin"] == "track"
    assert run.data.tags["framework.config_hash"] == manifest["config_hash"]
    assert run.data.tags["framework.git_commit"] == (manifest["git"]["commit"] or "unknown")
    assert run.data.params["track.fit.rate"] == "0.25"
    assert run.data.params["track.fit.size"] == "5"
    assert run.data.params["execution.seed"] == "0"
    history = client.get_metric_history(run.info.run_id, "fit/loss")
    assert [(m.step, m.value) for m in history] == [(i, 1.0 / (i + 1)) for i in range(5)]
    assert run.data.metrics["fit/accuracy"] == 0.75
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"manifest.json", "plots"}
    assert [a.path for a in client.list_artifacts(run.info.run_id, "plots")] == ["plots/curve.png"]
    local = client.download_artifacts(run.info.run_id, "manifest.json")
    assert json.loads(Path(local).read_text())["run_id"] == "t1"


def test_tensorboard_holds_scalars_the_config_and_the_images(tracked):
    events = tensorboard(tracked)

    loss = events.Scalars("fit/loss")
    assert [(e.step, pytest.approx(e.value)) for e in loss] == [
        (i, pytest.approx(1.0 / (i + 1))) for i in range(5)
    ]
    (config,) = events.Tensors("config")
    text = config.tensor_proto.string_val[0].decode()
    assert '"rate": 0.25' in text and "t1" in text
    (image,) = events.Images("plots/curve.png")
    assert (image.width, image.height) == (4, 3)
    assert image.encoded_image_string == (tracked / "plots" / "curve.png").read_bytes()


def test_no_tracker_by_default(cli, fitting, isolated):
    assert cli("run", "track.fit", "--run-id", "t1").exit_code == 0

    assert not (isolated / "runs" / "t1" / "tensorboard").exists()
    assert not (isolated / "runs" / ".mlflow").exists()


def test_trackers_come_from_a_comma_list_the_config_file_or_the_environment(
    cli, fitting, isolated, monkeypatch
):
    (isolated / "c.yaml").write_text("execution:\n  tracker: [tensorboard]\n")
    cli("run", "track.fit", "--run-id", "file", "--config", "c.yaml")
    cli("run", "track.fit", "--run-id", "list", "--tracker", "tensorboard,none")
    monkeypatch.setenv("FRAMEWORK_TRACKER", "tensorboard")
    cli("run", "track.fit", "--run-id", "env", "--force")

    runs = isolated / "runs"
    assert tensorboard(runs / "file").Scalars("fit/loss")
    assert not (runs / "list" / "tensorboard").exists()  # none wins
    assert tensorboard(runs / "env").Scalars("fit/loss")


def test_an_unknown_tracker_is_refused_before_the_run(cli, fitting):
    result = cli("run", "track.fit", "--tracker", "wandb")

    assert result.exit_code == 2
    assert "tracker" in result.stderr and "mlflow" in result.stderr


def test_deprecated_spellings_warn_once_and_still_work(cli, fitting, isolated):
    backend = cli("run", "track.fit", "--run-id", "a", "--logger-backend", "TensorBoard")
    disabled = cli("run", "track.fit", "--run-id", "b", "--tracker", "tensorboard", "--force",
                   "--disable_mlflow")  # fmt: skip

    assert backend.err_lines == [
        "warning: --logger-backend is deprecated; use --tracker tensorboard"
    ]
    assert tensorboard(isolated / "runs" / "a").Scalars("fit/loss")
    assert disabled.err_lines == ["warning: --disable-mlflow is deprecated; use --tracker none"]
    assert not (isolated / "runs" / "b" / "tensorboard").exists()


def test_an_unreachable_mlflow_server_warns_once_and_the_run_completes(
    cli, fitting, isolated, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # a closed port
    result = cli("run", "track.fit", "--run-id", "t1", "--tracker", "mlflow,tensorboard")

    assert result.exit_code == 0
    assert len(result.err_lines) == 1, result.stderr
    assert result.err_lines[0].startswith("warning: tracker mlflow failed")
    assert "127.0.0.1:9" in result.err_lines[0]
    assert read_manifest(isolated / "runs" / "t1")["status"] == "completed"
    assert tensorboard(isolated / "runs" / "t1").Scalars("fit/loss")  # the other one worked


def test_a_tracker_that_cannot_write_warns_once_and_the_run_completes(cli, fitting, isolated):
    run_dir = isolated / "runs" / "t1"
    run_dir.mkdir(parents=True)
    (run_dir / "tensorboard").write_text("a file where the event folder should be")
    result = cli("run", "track.fit", "--run-id", "t1", "--tracker", "tensorboard")

    assert result.exit_code == 0
    assert len(result.err_lines) == 1, result.stderr
    assert result.err_lines[0].startswith("warning: tracker tensorboard failed")
    assert read_manifest(run_dir)["status"] == "completed"


def test_a_sweep_groups_its_jobs_in_one_mlflow_experiment(cli, fitting, mlflow_store, isolated):
    result = cli("sweep", "track.fit", "-p", "rate=0.1,0.2", "--tracker", "mlflow")

    assert result.exit_code == 0, result.stderr
    (sweep_id,) = [p.name for p in (isolated / "runs" / "sweeps").iterdir()]
    runs = mlflow_runs(mlflow_store, sweep_id)
    assert sorted(r.data.params["track.fit.rate"] for r in runs) == ["0.1", "0.2"]
    assert {r.data.tags["framework.sweep_id"] for r in runs} == {sweep_id}
    assert all(r.info.status == "FINISHED" for r in runs)


def test_parallel_sweep_jobs_share_a_new_sqlite_store(cli, fitting, isolated, monkeypatch):
    # Parallel jobs that each open the default store for the first time all create its
    # tables at once; without a lock MLflow's migration collides and tracking is dropped.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    result = cli(
        "sweep", "track.fit", "-p", "rate=0.1,0.2,0.3", "--tracker", "mlflow",
        "--executor", "process", "--max-parallel", "3",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    (sweep_dir,) = (isolated / "runs" / "sweeps").iterdir()
    logs = "".join(p.read_text() for p in (sweep_dir / "logs").iterdir())
    assert "tracker mlflow failed" not in logs
    runs = mlflow_runs(isolated / "runs" / ".mlflow" / "mlflow.db", sweep_dir.name)
    assert sorted(r.data.params["track.fit.rate"] for r in runs) == ["0.1", "0.2", "0.3"]
    assert all(r.info.status == "FINISHED" for r in runs)
