"""The example plugin end to end: its numbers check out, and it installs like a third party's."""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO, read_manifest

HELLO_SRC = REPO / "examples" / "hello-plugin"


def run_hello(cli, run_id: str, *args: str, root: str = "runs") -> Path:
    """`framework run hello.evaluate` (train, then evaluate); returns the run dir."""
    result = cli(
        "run", "hello.evaluate", "--run-id", run_id, "--artifact-root", root, "--quiet", *args
    )
    assert result.exit_code == 0, result.stderr
    return Path(root).resolve() / run_id


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def least_squares(points: list[tuple[str, float, float]]) -> tuple[float, float]:
    """Closed-form slope and intercept minimising the squared error on `points`."""
    xs = [x for _, x, _ in points]
    ys = [y for _, _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return slope, my - slope * mx


# -- the pipeline through the CLI -----------------------------------------------------------


def test_hello_pipeline_runs_train_then_evaluate(cli):
    run_dir = run_hello(cli, "r1")

    manifest = read_manifest(run_dir)
    assert manifest["plan"] == ["hello.train", "hello.evaluate"]
    assert manifest["status"] == "completed"
    assert {s["status"] for s in manifest["steps"].values()} == {"completed"}
    assert (run_dir / "metrics.json").is_file()


def test_hello_training_loss_falls(cli):
    run_dir = run_hello(cli, "r1", "--epochs", "50")

    with open(run_dir / "train" / "loss.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    losses = [float(row["loss"]) for row in rows]
    assert [int(row["epoch"]) for row in rows] == list(range(50))
    # Full-batch gradient descent on a convex loss with a small step: it never goes up.
    assert all(later <= earlier for earlier, later in itertools.pairwise(losses))
    assert losses[-1] < losses[0] / 10


def test_hello_metrics_match_an_independent_computation(cli):
    from framework_hello.data import make_points

    run_dir = run_hello(cli, "r1", "--seed", "7", "--n-samples", "150", "--noise", "0.3")

    state = read_json(run_dir / "model" / "weights.json")["state"]
    test_points = make_points(150, 0.3, seed=7)["TEST"]
    errors = [state["w"] * x + state["b"] - y for _, x, y in test_points]
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n"] == len(test_points) == 30
    assert metrics["mse"] == pytest.approx(sum(e * e for e in errors) / len(errors), rel=1e-12)
    assert metrics["mae"] == pytest.approx(sum(abs(e) for e in errors) / len(errors), rel=1e-12)


def test_hello_fit_matches_closed_form_least_squares_on_train(cli):
    from framework_hello.data import make_points

    run_dir = run_hello(cli, "r1", "--seed", "3", "--epochs", "300")

    state = read_json(run_dir / "model" / "weights.json")["state"]
    slope, intercept = least_squares(make_points(200, 0.1, seed=3)["TRAIN"])
    assert state["w"] == pytest.approx(slope, abs=1e-3)
    assert state["b"] == pytest.approx(intercept, abs=1e-3)


def test_hello_same_seed_gives_identical_metrics(cli):
    # Separate artifact roots: the second run cannot reuse the first one's outputs.
    first = run_hello(cli, "a", "--seed", "11", root="one")
    second = run_hello(cli, "b", "--seed", "11", root="two")

    assert read_manifest(second)["steps"]["hello.evaluate"]["status"] == "completed"
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()


def test_hello_different_seed_gives_different_metrics(cli):
    first = run_hello(cli, "a", "--seed", "11")
    second = run_hello(cli, "b", "--seed", "12")

    assert read_json(first / "metrics.json")["mse"] != read_json(second / "metrics.json")["mse"]


def test_hello_builds_the_model_named_in_its_config(cli):
    run_dir = run_hello(cli, "r1", "--model", "hello.constant")

    saved = read_json(run_dir / "model" / "weights.json")
    assert saved["model"] == "hello.constant"
    assert saved["state"]["w"] == 0.0
    # A constant cannot follow a line with slope 3: its error is far above the noise.
    assert read_json(run_dir / "metrics.json")["mse"] > 1.0


def test_hello_rerun_with_more_samples_records_the_new_splits(cli):
    run_hello(cli, "r1")
    run_dir = run_hello(cli, "r1", "--n-samples", "500")
    splits = read_manifest(run_dir)["splits"]
    assert (splits["TRAIN"]["count"], splits["TEST"]["count"]) == (400, 100)


def test_hello_steps_that_see_different_samples_in_one_run_fail(cli):
    # Train on 500 points, evaluate on the split of 200: evaluate's TRAIN is not train's.
    result = cli(
        "run", "hello.evaluate", "--run-id", "r1", "--quiet", "--set", "train.n_samples=500"
    )
    assert result.exit_code == 1
    assert "than the TRAIN that upstream step hello.train used" in result.err_lines[-1]
    assert read_manifest(Path("runs") / "r1")["steps"]["hello.evaluate"]["status"] == "failed"


def test_hello_only_refuses_to_evaluate_on_samples_the_model_trained_on(cli):
    # The model saw 500 points; evaluating alone with the default 200 would score it
    # on a TEST split that lies inside its training data.
    run_hello(cli, "r1", "--n-samples", "500")
    result = cli("run", "hello.evaluate", "--run-id", "r1", "--only", "--quiet")
    assert result.exit_code == 1
    assert "upstream step hello.train" in result.err_lines[-1]
    assert (
        cli("run", "hello.evaluate", "--run-id", "r1", "--only", "--n-samples", "500").exit_code
        == 0
    )


# -- a fresh virtual environment ------------------------------------------------------------

# Third-party packages the fresh environment borrows from this one.
BORROWED = ["click", "pluggy", "attrs", "jsonschema", "yaml", "rich", "setuptools", "pip"]


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRAMEWORK_", *drop))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def _sh(
    *cmd: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _copy_sources(dest: Path) -> tuple[Path, Path]:
    """Copies of the core and the example plugin, so building them writes nothing into the repo."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    core = dest / "core-src"
    core.mkdir()
    shutil.copy2(REPO / "pyproject.toml", core)
    shutil.copy2(REPO / "README.md", core)
    shutil.copytree(REPO / "core", core / "core", ignore=skip)
    hello = dest / "hello-src"
    shutil.copytree(HELLO_SRC, hello, ignore=skip)
    return core, hello


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A venv that sees this environment's third-party packages but not its framework installs,
    with the core and the example plugin pip-installed into it as regular distributions."""
    base = tmp_path_factory.mktemp("hello-venv")
    venv = base / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(
        _sh(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    # A plain path line: the directory joins sys.path, but the editable-install hooks
    # (.pth files inside it) are not executed, so `framework` stays invisible.
    (purelib / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _sh(python, "-c", "import " + ", ".join(BORROWED))
    before = _sh(python, "-c", "import framework", check=False)
    assert before.returncode != 0, "the fresh venv must not see the editable framework install"

    core, hello = _copy_sources(base)
    _sh(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--ignore-installed", core, hello)  # fmt: skip
    return venv


@pytest.mark.slow
def test_fresh_venv_imports_the_installed_copies_not_the_repo(fresh_venv):
    proc = _sh(
        fresh_venv / "bin" / "python",
        "-c",
        "import framework, framework_hello; print(framework.__file__); print(framework_hello.__file__)",
    )

    for path in proc.stdout.split():
        assert Path(path).is_relative_to(fresh_venv), path


@pytest.mark.slow
def test_fresh_venv_lists_the_example_plugin_steps(fresh_venv):
    proc = _sh(fresh_venv / "bin" / "framework", "list-steps")

    ids = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    assert "hello.train" in ids
    assert "hello.evaluate" in ids


@pytest.mark.slow
def test_fresh_venv_runs_the_example_pipeline(fresh_venv, tmp_path):
    proc = _sh(
        fresh_venv / "bin" / "framework", "run", "hello.evaluate", "--run-id", "r1", "--quiet",
        cwd=tmp_path,
    )  # fmt: skip

    assert proc.returncode == 0
    run_dir = tmp_path / "runs" / "r1"
    assert read_manifest(run_dir)["status"] == "completed"
    assert read_json(run_dir / "metrics.json")["n"] == 40
