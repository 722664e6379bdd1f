"""Shared fixtures: an isolated working dir, real entry-point plugins, the CLI in-process."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@attrs.frozen
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def invoke(*args: str) -> Result:
    """Run `framework ARGS` in this process, as the console script does."""
    from framework.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def expect_error(result: Result, exit_code: int, *needles: str) -> str:
    """One 'error: ...' line on stderr naming each needle, no traceback, the exit code."""
    assert result.exit_code == exit_code, result
    assert len(result.err_lines) == 1, result.stderr
    line = result.err_lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in line, line
    return line


@pytest.fixture
def cli():
    return invoke


@pytest.fixture(scope="session")
def user_cache(tmp_path_factory) -> Path:
    """The suite's own user cache folder (entry points), not the home directory's."""
    return tmp_path_factory.mktemp("user-cache")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, user_cache):
    """Each test runs in its own directory with no FRAMEWORK_* settings leaking in."""
    for key in list(os.environ):
        if key.startswith("FRAMEWORK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FRAMEWORK_CACHE_DIR", str(user_cache))
    monkeypatch.chdir(tmp_path)
    return tmp_path


class PluginSite:
    """A directory on sys.path holding plugins installed as real distributions.

    Each plugin gets a module and a ``*.dist-info`` with an entry point in the group
    ``framework.plugins``, so discovery goes through importlib.metadata as in real use.
    """

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.root.mkdir()
        self.names: list[str] = []
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
        )
        # Only the plugins of this site load (plus built-ins), unless a test opts in.
        monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", "1")
        self._monkeypatch = monkeypatch

    def add(
        self,
        name: str,
        source: str,
        *,
        module: str | None = None,
        dist: str | None = None,
        version: str = "0.1.0",
        files: dict[str, str] | None = None,
    ) -> str:
        """Install plugin `name` whose hook module has `source`; returns the module name."""
        module = module or f"fwtest_{name}"
        dist = dist or f"fwtest-{name}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        for rel, text in (files or {}).items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_text(textwrap.dedent(text))
        self._register(name, module, dist, version)
        return module

    def install(self, name: str, src: Path, module: str, dist: str, version: str = "0.1.0") -> None:
        """Install plugin `name` from a src layout (`src` on the path, its package
        unchanged) whose entry point is `module`, as distribution `dist`."""
        self._monkeypatch.syspath_prepend(str(src))
        self._monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])
        )
        self._register(name, module, dist, version)

    def _register(self, name: str, module: str, dist: str, version: str) -> None:
        """The distribution's metadata and entry point, and a clean import of `module`."""
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[framework.plugins]\n{name} = {module}\n")
        self.names.append(name)
        self._monkeypatch.setenv("FRAMEWORK_PLUGINS", ",".join(self.names))
        importlib.invalidate_caches()
        package = module.split(".")[0]
        for key in [k for k in sys.modules if k == package or k.startswith(package + ".")]:
            del sys.modules[key]

    def enable(self, name: str) -> None:
        """Load the installed plugin `name` too (a distribution of this repository)."""
        self.names.append(name)
        self._monkeypatch.setenv("FRAMEWORK_PLUGINS", ",".join(self.names))


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    site = PluginSite(tmp_path / "site", monkeypatch)
    yield site
    for name in site.names:
        for key in [k for k in sys.modules if k.startswith(f"fwtest_{name}")]:
            del sys.modules[key]


# A small pipeline used by many tests: prepare -> train -> report, pure Python.
PIPELINE = """
import json
import attrs
from framework import Step, hookimpl, field

@attrs.define
class PrepareConfig:
    size: int = field(8, min=1, help="how many numbers")

@attrs.define
class TrainConfig:
    size: int = field(8, min=1, help="how many numbers")
    scale: float = field(2.0, help="multiplier")
    mode: str = field("sum", choices=["sum", "max"], help="reduction")

CALLS = []

def prepare(ctx):
    CALLS.append("prepare")
    ctx.write_json("data/numbers.json", list(range(ctx.config.size)))

def train(ctx):
    CALLS.append("train")
    numbers = json.loads(ctx.input("data/numbers.json").read_text())
    value = (sum if ctx.config.mode == "sum" else max)(numbers) * ctx.config.scale
    ctx.log_metrics(step=1, value=value)
    ctx.write_json("model/value.json", {"value": value})

def report(ctx):
    CALLS.append("report")
    ctx.write_text("report.txt", "value=%s\\n" % ctx.read_json("model/value.json")["value"])

@hookimpl
def register_steps(register):
    register(Step(id="pipe.prepare", run=__name__ + ":prepare", config=__name__ + ":PrepareConfig",
                  outputs=["data/numbers.json"], description="write numbers"))
    register(Step(id="pipe.train", run=__name__ + ":train", config=__name__ + ":TrainConfig",
                  requires=["prepare"], inputs=["data/numbers.json"], outputs=["model/value.json"],
                  description="reduce numbers"))
    register(Step(id="pipe.report", run=__name__ + ":report", requires=["train"],
                  inputs=["model/value.json"], outputs=["report.txt"], description="write a report"))
"""


@pytest.fixture
def pipeline(plugin_site):
    """The `pipe` plugin (prepare -> train -> report); returns its module name."""
    return plugin_site.add("pipe", PIPELINE)


def read_manifest(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def read_events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "events.jsonl").read_text().splitlines()]


# Property-based tests (tests/core/test_config_fuzz.py): a bounded number of examples in
# the suite; `--hypothesis-profile=long` for a long run.
with contextlib.suppress(ImportError):
    from hypothesis import HealthCheck
    from hypothesis import settings as _hypothesis

    _hypothesis.register_profile(
        "framework-ci",
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    _hypothesis.register_profile(
        "long", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    _hypothesis.register_profile(
        "mid", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    _hypothesis.load_profile("framework-ci")


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made: creating them takes seconds, so each
    test copies this one to where the tracker keeps its store (``<root>/.mlflow/mlflow.db``)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(mlflow_db_template, isolated, monkeypatch) -> Path:
    """The default MLflow store of the artifact root `runs`, ready; returns the database."""
    import shutil

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    db = isolated / "runs" / ".mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True)
    shutil.copyfile(mlflow_db_template, db)
    return db
