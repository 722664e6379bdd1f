"""Execute a prepared plan (`framework.prepare`): skip what is up to date (`freshness.decide`),
take what the artifact store has, run the rest, record it all."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import attrs

from framework import distributed
from framework.context import Models, StepContext
from framework.errors import FrameworkError, UsageError, short_error
from framework.execution import ExecutionSettings, RankInfo, seed_everything
from framework.failures import (
    make_run_dir,
    signals_held,
    sigterm_as_interrupt,
    step_error,
    storage_error,
)
from framework.freshness import Decision, StepState, decide, file_records
from framework.hashing import HashCache
from framework.jsonsafe import json_safe
from framework.manifest import (
    MANIFEST_NAME,
    RunLock,
    check_run_id,
    new_run_id,
    read_manifest,
    utc_now,
    write_manifest,
)
from framework.plugins import Plugins, import_object
from framework.prepare import Prepared, check_only_inputs, prepare
from framework.request import RunRequest, artifact_root
from framework.run_record import (
    apply_bridges,
    initial_manifest,
    start_fields,
    step_record,
    upstream_splits,
)
from framework.splits import SplitGuard
from framework.steps import Step
from framework.store import ArtifactStore

# Parts of a step's record that describe its outputs, so skips and reuses keep them.
CARRIED = ("metrics", "splits")


@attrs.define
class Run:
    """What lifecycle hooks see of the run in progress."""

    run_id: str
    run_dir: Path
    target: str
    plan: list[str]
    configs: dict[str, Any]
    execution: ExecutionSettings
    manifest: dict[str, Any]
    plugins: Plugins = attrs.field(repr=False)
    rank: RankInfo = attrs.Factory(RankInfo.from_env)
    options: dict[str, Any] = attrs.Factory(dict)  # values of options plugins added to `run`

    def emit(self, event: str, step: str | None = None, /, **fields: Any) -> None:
        """Send a structured event to every ``on_event`` hook (events.jsonl among them)."""
        record = {
            "ts": utc_now(),
            "run_id": self.run_id,
            "step": step,
            "event": event,
            "fields": fields,
        }
        self.plugins.pm.hook.on_event(run=self, event=record)


@attrs.define
class RunResult:
    run_id: str
    run_dir: Path
    status: str
    manifest: dict[str, Any]


def run_job(request: RunRequest, plugins: Plugins) -> RunResult:
    """Prepare and execute one run (several processes through the `RunLauncher` a plugin
    registered for jobs); raises FrameworkError subclasses for the CLI."""
    prepared = prepare(request, plugins)
    if request.nproc_per_node <= 1 or distributed.launched():
        return PlanRunner(prepared, plugins).execute()
    from framework.steps import RunLauncher

    for item, _ in plugins.cli_extensions:
        if isinstance(item, RunLauncher) and item.job:
            result: RunResult = import_object(item.job)(request)
            return result
    raise UsageError(
        f"{request.target}: nproc_per_node {request.nproc_per_node} needs a run launcher, "
        "and no loaded plugin registers one",
        hint="see 'framework plugins' (the built-in launcher is 'launch')",
    )


class PlanRunner:
    """Runs a prepared plan in its run dir, holding the run lock throughout."""

    def __init__(
        self, prepared: Prepared, plugins: Plugins, options: dict[str, Any] | None = None
    ) -> None:
        self.p = prepared
        self.options = dict(options or {})
        self.plugins = plugins
        self.root = artifact_root(prepared.request.artifact_root)
        self.rank = RankInfo.from_env()
        # Launched as several processes (torchrun): join the group, agree on one run id.
        self.backend = distributed.init(prepared.execution, self.rank)
        self.run_id = distributed.broadcast(
            check_run_id(prepared.request.run_id) if prepared.request.run_id else new_run_id()
        )
        self.run_dir = self.root / self.run_id
        self.hashes = HashCache(self.root / ".cache" / "hashes.json")
        self.store = ArtifactStore(self.root / ".store", self.hashes)

    def _save(self, manifest: dict[str, Any]) -> None:
        if self.rank.is_main:
            try:
                write_manifest(self.run_dir, manifest)
            except OSError as exc:
                raise storage_error(exc, self.run_dir, "the manifest") from exc

    def _previous(self) -> dict[str, Any] | None:
        """The run dir's last manifest; None for a new run."""
        exists = (self.run_dir / MANIFEST_NAME).exists()
        return read_manifest(self.run_dir) if exists else None

    def _record(self, step_id: str) -> tuple[dict[str, Any], StepState]:
        return step_record(self.p, step_id, self.run_dir, self.hashes, self.rank)

    def _decide(self, step_id: str, previous: dict[str, Any] | None, state: StepState) -> Decision:
        forced = step_id in self.p.forced
        return decide(step_id, previous, state, self.run_dir, self.hashes, forced=forced)

    def execute(self) -> RunResult:
        # Every callable of the plan imports and takes a context, before anything runs.
        self.plugins.check_steps(self.p.plan)
        if self.p.request.only:
            check_only_inputs(self.p, self.plugins, self.run_dir, self.run_id)
        make_run_dir(self.root, self.run_dir)
        # Only rank 0 writes, so only rank 0 locks: the other ranks of a torchrun job share its run dir.
        lock = RunLock(self.run_dir) if self.rank.is_main else contextlib.nullcontext()
        with lock, sigterm_as_interrupt():
            previous = self._previous()
            manifest = initial_manifest(
                self.p, self.plugins, self.run_id, previous, self.rank, self.backend
            )
            run = Run(
                run_id=self.run_id,
                run_dir=self.run_dir,
                target=self.p.target,
                plan=self.p.plan,
                configs=self.p.configs,
                execution=self.p.execution,
                manifest=manifest,
                plugins=self.plugins,
                rank=self.rank,
                options=self.options,
            )
            self._save(manifest)
            hook = self.plugins.pm.hook
            status = "failed"
            try:
                hook.before_run(run=run)
                run.emit("run_started", **start_fields(self.p, self.plugins, manifest))
                for step_id in self.p.plan:
                    self._step(run, step_id, previous)
                    distributed.barrier()  # the other ranks wait for rank 0's outputs
                status = "completed"
            except KeyboardInterrupt:
                status = "interrupted"
                raise
            finally:
                with signals_held():
                    manifest["status"] = status
                    self._save(manifest)
                    if self.rank.is_main:
                        self.hashes.save()
                run.emit("run_finished", status=status)
                hook.after_run(run=run, status=status)
                if self.backend is not None:
                    distributed.shutdown()
        return RunResult(self.run_id, self.run_dir, status, manifest)

    def stale_steps(self) -> list[tuple[str, str]]:
        """The steps `execute` would run, each with why; empty when the run is up to date.
        Writes nothing: a sweep asks this before resubmitting a job."""
        previous = self._previous()
        stale = []
        for step_id in self.p.plan:
            try:
                decision = self._decide(step_id, previous, self._record(step_id)[1])
            except FrameworkError as exc:  # an input or a dependency is missing
                decision = Decision(False, str(exc))
            if not decision.fresh:
                stale.append((step_id, decision.why))
        return stale

    def _step(self, run: Run, step_id: str, previous: dict[str, Any] | None) -> None:
        record, state = self._record(step_id)
        # Several processes: rank 0 decides for all, so every rank runs the same steps.
        decision: Decision = distributed.broadcast(
            self._decide(step_id, previous, state) if self.rank.is_main else Decision(False, "")
        )
        if decision.fresh:
            # Keep its outputs and what its last record said of them. (Other ranks may have
            # read an older manifest than the one rank 0 decided on.)
            last = (previous or {}).get("steps", {}).get(step_id) or {}
            carried = ("started_at", "finished_at", "duration_s", *CARRIED)
            kept = {k: last[k] for k in carried if k in last}
            why = f"up to date: {decision.why}"
            record.update(kept, status="skipped", reason=why, outputs=last.get("outputs", []))
            self._finish(run, step_id, record)
        elif step_id in self.p.forced or not self._reuse(run, step_id, record, decision.why):
            self._run_step(run, self.p.steps[step_id].spec, record, decision.why)

    def _reuse(self, run: Run, step_id: str, record: dict[str, Any], because: str) -> bool:
        """Take the step's outputs from the artifact store; False when it has none."""
        found = self.store.fetch(record["fingerprint"], self.run_dir) if self.rank.is_main else None
        if not distributed.broadcast(found is not None):
            return False
        if found is None:  # not rank 0: it put the files into the run dir all ranks share
            record.update(status="reused", reason="rank 0 restored the outputs")
            run.manifest["steps"][step_id] = record
            return True
        stored, carried = found
        record.update(
            status="reused",
            reason=f"identical outputs found in the artifact store ({because})",
            outputs=file_records(
                self.run_dir,
                tuple(sorted(stored)),
                self.hashes,
                required=True,
                what=f"step {step_id}: reused output",
            ),
            reused_from=record["fingerprint"],
            **{k: v for k, v in carried.items() if k in CARRIED},
        )
        self._finish(run, step_id, record)
        return True

    def _run_step(self, run: Run, spec: Step, record: dict[str, Any], reason: str) -> None:
        manifest = run.manifest
        record.update(
            status="running", reason=reason, started_at=utc_now(), finished_at=None, error=None
        )
        record.pop("outputs", None)
        manifest["steps"][spec.id] = record
        self._save(manifest)
        run.emit("step_started", spec.id, reason=reason, fingerprint=record["fingerprint"])
        started = time.perf_counter()

        def ended(status: str, **fields: Any) -> None:
            duration = round(time.perf_counter() - started, 6)
            record.update(status=status, finished_at=utc_now(), duration_s=duration, **fields)

        try:
            outputs = self._call(run, spec, record)
        except BaseException as exc:
            message = str(exc) if isinstance(exc, FrameworkError) else short_error(exc)
            if isinstance(exc, KeyboardInterrupt):
                message = "interrupted"
            with signals_held():
                ended("failed", error=message)
                self._save(manifest)
            run.emit("step_failed", spec.id, error=message)
            self.plugins.pm.hook.on_step_error(run=run, step=spec, error=exc)
            # Ctrl+C and exits are not ours to translate; our own errors stay as they are.
            error = step_error(spec.id, exc, self.run_dir) if isinstance(exc, Exception) else exc
            if error is exc:
                raise
            raise error from exc
        if self.rank.is_main:
            try:
                self.store.save(
                    record["fingerprint"],
                    self.run_dir,
                    {o["path"]: o["hash"] for o in outputs},
                    {k: record[k] for k in CARRIED if record.get(k)},
                )
            except OSError as exc:  # the store is a cache: a later run recomputes instead
                run.emit("store_failed", spec.id, error=short_error(exc))
        ended("completed", outputs=outputs)
        self._finish(run, spec.id, record)

    def _call(self, run: Run, spec: Step, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Call the step with its context; the records of the outputs it declared."""
        legacy = apply_bridges(run, spec.id, self.p.configs.get(spec.id))
        func = import_object(spec.run)  # `execute` checked it imports and is callable
        seed_everything(self.p.execution.seed, self.p.execution.deterministic)
        ctx = StepContext(
            step=spec,
            config=self.p.configs.get(spec.id),
            run_id=self.run_id,
            run_dir=self.run_dir,
            execution=self.p.execution,
            rank=self.rank,
            splits=SplitGuard(
                spec.id,
                spec.splits,
                record.setdefault("splits", {}),
                upstream_splits(self.plugins, spec.id, run.manifest),
            ),
            models=Models(self.plugins.models, self.plugins.model_factory),
            legacy=legacy,
            command=self.p.request.command,
            emit=lambda event, fields: run.emit(event, spec.id, **fields),
            metrics_hook=lambda m: self._on_metrics(run, spec, record, m),
            terminal=self.plugins.pm.hook.step_terminal(run=run, step=spec),
        )
        self.plugins.pm.hook.before_step(run=run, step=spec)
        func(ctx)
        if not self.rank.is_main:
            # Other ranks write nothing (ctx.output gives them scratch files) and record
            # nothing; reading rank 0's files could race it (a checkpoint it prunes).
            return []
        return file_records(
            self.run_dir,
            spec.outputs,
            self.hashes,
            required=True,
            what=f"step {spec.id}: declared output",
        )

    def _on_metrics(
        self, run: Run, spec: Step, record: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        """Keep each metric's last value in the step's record; tell on_metrics hooks."""
        latest = {k: v for k, v in json_safe(metrics).items() if k != "step"}
        record.setdefault("metrics", {}).update(latest)
        self.plugins.pm.hook.on_metrics(run=run, step=spec, metrics=metrics)

    def _finish(self, run: Run, step_id: str, record: dict[str, Any]) -> None:
        run.manifest["steps"][step_id] = record
        run.manifest["splits"].update(record.get("splits", {}))
        self._save(run.manifest)
        fields = {k: record[k] for k in ("status", "reason", "duration_s") if k in record}
        outputs = [o["path"] for o in record.get("outputs", [])]
        run.emit(f"step_{record['status']}", step_id, **fields, outputs=outputs)
        self.plugins.pm.hook.after_step(run=run, step=self.p.steps[step_id].spec, result=record)
