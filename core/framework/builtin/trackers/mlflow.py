"""MLflow: one MLflow run per framework run, through MLflow's client API.

The tracking store is ``$MLFLOW_TRACKING_URI`` when set, else a SQLite store under the
artifact root (``runs/.mlflow/mlflow.db``, artifacts in ``runs/.mlflow/artifacts``):
browse it with ``mlflow ui --backend-store-uri sqlite:///runs/.mlflow/mlflow.db``. The experiment is
``$MLFLOW_EXPERIMENT_NAME``, else the sweep's id for a sweep job (so MLflow's compare
view holds exactly the sweep), else the target step's id. A run that continues (the
same ``--run-id``, e.g. ``lm.train --resume``) continues its MLflow run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from framework.builtin.trackers.info import RunInfo

STORE = ".mlflow"  # under the artifact root, hidden like .cache and .store
BATCH = 100  # MLflow takes at most 1,000 metrics and 100 params per log_batch
CONNECT_TIMEOUT_S = 3.0
STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
MAX_PARAM = 6000  # characters MLflow keeps of a param value


def default_uri(root: Path) -> str:
    return f"sqlite:///{(root / STORE / 'mlflow.db').resolve()}"


class MlflowTracker:
    def __init__(self, info: RunInfo) -> None:
        self.info = info
        self.uri = os.environ.get("MLFLOW_TRACKING_URI") or default_uri(info.root)
        self.client: MlflowClient | None = None
        self.run_id = ""

    def start(self) -> None:
        check_reachable(self.uri)
        for noisy in ("mlflow.store.db.utils", "alembic"):  # "creating tables": not news
            logging.getLogger(noisy).setLevel(logging.WARNING)
        with self._store_lock():  # the first opening of a SQLite store creates its tables
            self.client = MlflowClient(tracking_uri=self.uri)
            experiment = self._experiment()
        found = self.client.search_runs(
            [experiment],
            filter_string=f"tags.`framework.run_id` = '{self.info.run_id}'",
            max_results=1,
        )
        if found:  # the framework run continues: so does its MLflow run
            run = found[0]
            self.run_id = run.info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            known = set(run.data.params)
        else:
            run = self.client.create_run(
                experiment, run_name=self.info.run_id, tags=self.info.tags()
            )
            self.run_id = run.info.run_id
            known = set()
        params = [Param(k, v[:MAX_PARAM]) for k, v in self.info.params().items() if k not in known]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH])
        self.client.set_tag(self.run_id, "framework.config_hash", self.info.config_hash)

    @contextlib.contextmanager
    def _store_lock(self) -> Iterator[None]:
        """Held while a SQLite store is opened and the experiment found or made.

        MLflow creates (and migrates) a SQLite store's tables the first time it opens it;
        two processes doing that at once, as the parallel jobs of a sweep do, collide
        (``table _alembic_tmp_experiments already exists``). A server needs no lock."""
        database = sqlite_file(self.uri)
        if database is None:
            yield
            return
        import fcntl

        database.parent.mkdir(parents=True, exist_ok=True)
        with open(database.parent / f".{database.name}.lock", "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _experiment(self) -> str:
        assert self.client is not None
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or self.info.sweep_id or self.info.target
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.uri == default_uri(self.info.root):  # artifacts beside the database
            location = (self.info.root / STORE / "artifacts").resolve().as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location))
        except Exception:  # another job of the sweep created it first
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def log_metrics(self, records: list[tuple[str, dict[str, float], int]]) -> None:
        assert self.client is not None
        now = int(time.time() * 1000)
        metrics = [
            Metric(f"{step_name}/{key}", value, now, index)
            for step_name, values, index in records
            for key, value in values.items()
        ]
        for i in range(0, len(metrics), BATCH * 10):
            self.client.log_batch(self.run_id, metrics=metrics[i : i + BATCH * 10])

    def log_files(self, files: list[tuple[Path, str]]) -> None:
        assert self.client is not None
        for path, folder in files:
            self.client.log_artifact(self.run_id, str(path), artifact_path=folder or None)

    def finish(self, status: str) -> None:
        assert self.client is not None
        self.client.set_terminated(self.run_id, status=STATUS.get(status, "FAILED"))


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URI (relative, or absolute with four
    slashes); None for any other store and for an in-memory database."""
    scheme, _, rest = uri.partition("://")
    if scheme.split("+")[0] != "sqlite" or not rest.startswith("/"):
        return None
    path = rest[1:].split("?")[0]
    return Path(path) if path and path != ":memory:" else None


def check_reachable(uri: str) -> None:
    """Refuse at once a tracking server that does not answer a connection (MLflow's own
    client would retry for minutes)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ConnectionError(f"cannot reach the MLflow server at {uri}: {exc}") from None
