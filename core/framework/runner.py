"""Execute a plan: resolve config, skip what is up to date, run the rest, record it all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from framework import dag, distributed
from framework.config import ConfigResolver, Section, canonical_json, config_hash, load_config_file
from framework.context import Models, StepContext
from framework.errors import (
    ArtifactError,
    FrameworkError,
    MissingInputsError,
    SplitContractError,
    StepFailedError,
    UsageError,
)
from framework.execution import ExecutionSettings, RankInfo, seed_everything
from framework.freshness import (
    StepState,
    dependency_records,
    file_records,
    verdict,
    what_changed,
)
from framework.hashing import ALGORITHM, HashCache
from framework.jsonsafe import json_safe
from framework.manifest import (
    SCHEMA_VERSION,
    RunLock,
    check_run_id,
    new_run_id,
    read_manifest,
    utc_now,
    write_manifest,
)
from framework.plugins import Plugins, import_object
from framework.provenance import git_state, versions
from framework.splits import SplitGuard
from framework.steps import RegisteredStep, is_pattern
from framework.store import ArtifactStore

EXECUTION = "execution"
# Parts of a step's record that describe its outputs, so skips and reuses keep them.
CARRIED = ("metrics", "splits")
ARTIFACT_ROOT_ENV = "FRAMEWORK_ARTIFACT_ROOT"
RESERVED_ENV = {
    "FRAMEWORK_DISABLE_PLUGINS",
    "FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD",
    "FRAMEWORK_PLUGINS",
    "FRAMEWORK_STRICT_PLUGINS",
    "FRAMEWORK_LAUNCHED_COMMAND",
    ARTIFACT_ROOT_ENV,
}


@attrs.define
class RunRequest:
    """Everything that defines one job; plain data, so it can cross a process boundary."""

    target: str
    artifact_root: str = "runs"
    run_id: str | None = None
    only: bool = False
    from_step: str | None = None
    force: bool = False
    config_file: str | None = None
    flags: dict[str, Any] = attrs.Factory(dict)  # field name -> (text, flag as typed)
    sets: list[str] = attrs.Factory(list)
    command: list[str] = attrs.Factory(list)
    nproc_per_node: int = 1  # > 1: the run goes through torch's launcher (DDP steps)

    def argv(self) -> list[str]:
        """`framework` arguments that make this same run (for a launcher to repeat)."""
        from framework.config import format_text

        args = ["run", self.target, "--artifact-root", str(artifact_root(self.artifact_root))]
        if self.run_id:
            args += ["--run-id", self.run_id]
        if self.config_file:
            args += ["--config", self.config_file]
        for name, (value, _) in self.flags.items():
            option = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                args.append(option if value else f"--no-{option[2:]}")
            else:
                args += [option, value if isinstance(value, str) else format_text(value)]
        for assignment in self.sets:
            args += ["--set", assignment]
        args += ["--only"] * self.only + ["--force"] * self.force
        if self.from_step:
            args += ["--from", self.from_step]
        return args


@attrs.define
class Prepared:
    """A request resolved against the registry: the plan and its validated config."""

    request: RunRequest
    target: str
    plan: list[str]
    steps: dict[str, RegisteredStep]
    resolver: ConfigResolver
    execution: ExecutionSettings
    configs: dict[str, Any]
    forced: set[str]  # steps to run even if up to date (--force, --from and downstream)


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


def artifact_root(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get(ARTIFACT_ROOT_ENV) or "runs")


# -- preparation ----------------------------------------------------------------------


def config_sections(plugins: Plugins, step_ids: list[str]) -> list[Section]:
    sections = []
    for step_id in step_ids:
        spec = plugins.steps.get(step_id).spec
        cls = load_config_class(spec.config, step_id) if spec.config else None
        if cls is not None:
            sections.append(Section(step_id, cls))
    sections.append(Section(EXECUTION, ExecutionSettings))
    return sections


def load_config_class(path: str, step_id: str) -> type:
    try:
        return import_object(path)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"step {step_id}: cannot import its config class {path}: {exc}") from exc


def short_names(plugins: Plugins, step_ids: list[str]) -> dict[str, str]:
    """Short name -> id for the plan's steps whose short name is unique within the plan.

    `--set train.epochs=3` means the plan's `train`, even when other plugins also have one.
    """
    counts: dict[str, list[str]] = {}
    for step_id in step_ids:
        counts.setdefault(plugins.steps.get(step_id).spec.name, []).append(step_id)
    return {name: ids[0] for name, ids in counts.items() if len(ids) == 1}


def resolve_plan(plugins: Plugins, target: str, *, only: bool) -> tuple[str, list[str]]:
    """The target's qualified id and the steps to run, in order (just it with --only)."""
    target_id = plugins.steps.resolve(target).id
    return target_id, [target_id] if only else dag.plan(plugins.steps, target_id)


def prepare(
    request: RunRequest,
    plugins: Plugins,
    environ: Mapping[str, str] | None = None,
    plan: tuple[str, list[str]] | None = None,
) -> Prepared:
    """Resolve the target, plan and config; raise before anything runs or is written.

    `plan` is `resolve_plan`'s answer when the caller has it already.
    """
    environ = os.environ if environ is None else environ
    registry = plugins.steps
    target, order = plan or resolve_plan(plugins, request.target, only=request.only)
    forced = set(order) if request.force else set()
    if request.from_step:
        start = registry.resolve(request.from_step).id
        if start not in order:
            raise UsageError(
                f"--from {request.from_step}: {start} is not part of the plan for {target}"
            )
        forced |= set(dag.downstream_of(registry, order, start))
    resolver = ConfigResolver(config_sections(plugins, order), short_names(plugins, order))
    if request.config_file:
        resolver.apply_file(
            load_config_file(request.config_file), request.config_file, registry.ids()
        )
    resolver.apply_env(environ, RESERVED_ENV)
    for name, (value, flag) in request.flags.items():
        resolver.apply_flag(name, value, flag)
    for assignment in request.sets:
        resolver.apply_set(assignment)
    resolver.validate()
    configs = {
        key: resolver.build(key)
        for key in resolver.sections
        if key != EXECUTION and resolver.sections[key].cls
    }
    return Prepared(
        request=request,
        target=target,
        plan=order,
        steps={s: registry.get(s) for s in order},
        forced=forced,
        resolver=resolver,
        execution=resolver.build(EXECUTION),
        configs=configs,
    )


# -- execution ------------------------------------------------------------------------


def run_job(request: RunRequest, plugins: Plugins) -> RunResult:
    """Prepare and execute one run; raises FrameworkError subclasses for the CLI.

    With ``nproc_per_node > 1`` the run is several processes started by torch's launcher
    (the config is checked here first), and its result is read from its manifest.
    """
    prepared = prepare(request, plugins)
    if request.nproc_per_node > 1 and not distributed.launched():
        return _launched(request)
    return PlanRunner(prepared, plugins).execute()


def _launched(request: RunRequest) -> RunResult:
    from framework.builtin.launch.torchrun import launch, launcher_command

    if not request.run_id:
        request = attrs.evolve(request, run_id=new_run_id())
    argv = request.argv()
    code = launch(
        launcher_command(request.nproc_per_node, argv),
        list(request.command) or ["framework", *argv],
        request.nproc_per_node,
    )
    run_dir = artifact_root(request.artifact_root) / str(request.run_id)
    manifest = read_manifest(run_dir) if (run_dir / "manifest.json").exists() else {}
    status = manifest.get("status", "failed")
    if code == 0 and status == "completed":
        return RunResult(str(request.run_id), run_dir, status, manifest)
    if code == 130 or status == "interrupted":
        raise KeyboardInterrupt
    errors = [r.get("error") for r in manifest.get("steps", {}).values() if r.get("error")]
    raise StepFailedError(
        f"run {request.run_id} in {request.nproc_per_node} processes failed"
        + (f": {errors[0]}" if errors else f" (the launcher exited with code {code})"),
        hint=f"see {run_dir / 'events.jsonl'} and the launcher's output above",
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

    # manifest ------------------------------------------------------------------------

    def _initial_manifest(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        resolved = self.p.resolver.resolved()
        step_configs = {k: v for k, v in resolved.items() if k != EXECUTION}
        plugin_versions = {i.name: i.version for i in self.plugins.active() if i.status == "loaded"}
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": "running",
            "created_at": previous["created_at"] if previous else utc_now(),
            "updated_at": utc_now(),
            "command": list(self.p.request.command),
            "target": self.p.target,
            "plan": list(self.p.plan),
            "hash_algorithm": ALGORITHM,
            "versions": versions(plugin_versions),
            "git": git_state(),
            "config": {**(previous or {}).get("config", {}), **step_configs},
            "config_hash": config_hash(resolved),
            "execution": resolved[EXECUTION],
            "bridges": dict((previous or {}).get("bridges", {})),
            "splits": dict((previous or {}).get("splits", {})),
            "steps": dict((previous or {}).get("steps", {})),
        }
        for step_id in self.p.plan:
            manifest["steps"].setdefault(step_id, {"status": "pending"})
        if self.backend is not None:
            manifest["distributed"] = {
                "world_size": self.rank.world_size,
                "nproc_per_node": self.rank.local_world_size,
                "backend": self.backend,
            }
        return manifest

    def _save(self, manifest: dict[str, Any]) -> None:
        if self.rank.is_main:
            write_manifest(self.run_dir, manifest)

    # main loop -----------------------------------------------------------------------

    def execute(self) -> RunResult:
        if self.p.request.only:
            self._check_only_inputs()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Only rank 0 writes, so only rank 0 locks: the other ranks of a torchrun job share its run dir.
        lock = RunLock(self.run_dir) if self.rank.is_main else contextlib.nullcontext()
        with lock, sigterm_as_interrupt():
            previous = (
                read_manifest(self.run_dir) if (self.run_dir / "manifest.json").exists() else None
            )
            manifest = self._initial_manifest(previous)
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
                run.emit("run_started", **self._start_fields(manifest))
                for step_id in self.p.plan:
                    self._step(run, step_id, previous, force=step_id in self.p.forced)
                    distributed.barrier()  # the other ranks wait for rank 0's outputs
                status = "completed"
            except KeyboardInterrupt:
                status = "interrupted"
                raise
            finally:
                manifest["status"] = status
                self._save(manifest)
                if self.rank.is_main:
                    self.hashes.save()
                run.emit("run_finished", status=status)
                hook.after_run(run=run, status=status)
                if self.backend is not None:
                    distributed.shutdown()
        return RunResult(self.run_id, self.run_dir, status, manifest)

    def _start_fields(self, manifest: dict[str, Any]) -> dict[str, Any]:
        overrides = {
            key: {name: src for name, src in sources.items() if not src.startswith("default")}
            for key, sources in self.p.resolver.provenance().items()
        }
        return {
            "run_id": self.run_id,
            "target": self.p.target,
            "plan": self.p.plan,
            "config_hash": manifest["config_hash"],
            "git_commit": manifest["git"]["commit"],
            "git_dirty": manifest["git"]["dirty"],
            "plugins": {i.name: i.version for i in self.plugins.active()},
            "hooks": self.plugins.hook_names(),
            "config": {
                "values": self.p.resolver.resolved(),
                "overrides": {k: v for k, v in overrides.items() if v},
            },
        }

    def _check_only_inputs(self) -> None:
        entry = self.p.steps[self.p.target]
        missing = [
            rel
            for rel in entry.spec.inputs
            if not is_pattern(rel) and not (self.run_dir / rel).exists()
        ]
        if not missing:
            return
        producers = sorted(
            {p.id for p in self.plugins.steps for rel in missing if rel in p.spec.outputs}
        )
        cmd = (
            f"framework run {producers[0]} --run-id {self.run_id}"
            if producers
            else "the upstream steps"
        )
        raise MissingInputsError(
            f"--only {self.p.target}: missing inputs {', '.join(missing)} in {self.run_dir}"
            + (f" (produced by {', '.join(producers)})" if producers else ""),
            hint=f"run {cmd} first, or drop --only",
        )

    # one step ------------------------------------------------------------------------

    def stale_steps(self) -> list[tuple[str, str]]:
        """The steps `execute` would run, each with why; empty when the run is up to date.

        Reads the run dir and writes nothing: a sweep asks this before resubmitting a job.
        """
        if not (self.run_dir / "manifest.json").exists():
            return [(s, "never ran") for s in self.p.plan]
        previous = read_manifest(self.run_dir)
        stale = []
        for step_id in self.p.plan:
            if step_id in self.p.forced:
                stale.append((step_id, "forced"))
                continue
            prev_record = previous.get("steps", {}).get(step_id)
            try:
                _, state = self._fingerprint(step_id)
            except FrameworkError as exc:  # an input or a dependency is missing
                stale.append((step_id, str(exc)))
                continue
            fresh, why = verdict(prev_record, state.fingerprint(), self.run_dir, self.hashes)
            if not fresh:
                stale.append((step_id, why))
        return stale

    def _fingerprint(self, step_id: str) -> tuple[dict[str, Any], StepState]:
        """The step's record-to-be (inputs, dependencies, hashes) and its fingerprint state."""
        entry = self.p.steps[step_id]
        spec = entry.spec
        inputs = file_records(
            self.run_dir,
            spec.inputs,
            self.hashes,
            required=True,
            what=f"step {step_id}: declared input",
        )
        config = self.p.resolver.resolved().get(step_id, {})
        section = self.p.resolver.sections.get(step_id)
        named = {
            f.name: str(config[f.name])
            for f in (section.fields() if section else ())
            if f.dependency and config.get(f.name)
        }
        dependencies = dependency_records(named, self.hashes)
        state = StepState(
            step=step_id,
            code_version=spec.version,
            plugin_version=entry.plugin_version,
            config=config,
            execution=self.p.execution.fingerprint_values(),
            inputs={i["path"]: i["hash"] for i in inputs},
            dependencies={d["field"]: d["hash"] for d in dependencies},
        )
        record: dict[str, Any] = {
            "status": "pending",
            "code_version": spec.version,
            "plugin_version": entry.plugin_version,
            "config_hash": config_hash(state.config),
            "fingerprint": state.fingerprint(),
            "execution": state.execution,
            "inputs": inputs,
        }
        if dependencies:
            record["dependencies"] = dependencies
        return record, state

    def _step(
        self, run: Run, step_id: str, previous: dict[str, Any] | None, *, force: bool
    ) -> None:
        prev_record = (previous or {}).get("steps", {}).get(step_id)
        entry = self.p.steps[step_id]
        record, state = self._fingerprint(step_id)
        fp = record["fingerprint"]
        if self.rank.is_main:
            fresh, why = (
                (False, "forced") if force else verdict(prev_record, fp, self.run_dir, self.hashes)
            )
        else:
            fresh, why = False, ""
        # Several processes: rank 0 decides for all, so every rank runs the same steps.
        fresh, why = distributed.broadcast((fresh, why))
        if force:
            self._run_step(run, entry, record, "forced")
            return
        if fresh:
            prev_record = prev_record or {}  # other ranks may have read an older manifest
            kept = {
                k: prev_record[k]
                for k in ("started_at", "finished_at", "duration_s", *CARRIED)
                if k in prev_record
            }
            record.update(
                kept,
                status="skipped",
                reason=f"up to date: {why}",
                outputs=prev_record.get("outputs", []),
            )
            self._finish(run, step_id, record)
            return
        cached = self.store.lookup(fp) if self.rank.is_main else None
        if distributed.broadcast(cached is not None) and not self.rank.is_main:
            record.update(status="reused", reason="rank 0 restored the outputs")
            run.manifest["steps"][step_id] = record
            return
        if cached is not None:
            outputs_by_path, extra = cached
            self.store.restore(outputs_by_path, self.run_dir)
            outputs = file_records(
                self.run_dir,
                tuple(sorted(outputs_by_path)),
                self.hashes,
                required=True,
                what=f"step {step_id}: reused output",
            )
            record.update(
                status="reused",
                reason="identical outputs found in the artifact store",
                outputs=outputs,
                reused_from=fp,
                **{k: v for k, v in extra.items() if k in CARRIED},
            )
            self._finish(run, step_id, record)
            return
        old_config = (previous or {}).get("config", {}).get(step_id, {})
        # When nothing in the fingerprint changed, the verdict says what did (an output).
        self._run_step(run, entry, record, what_changed(prev_record, old_config, state) or why)

    def _run_step(
        self, run: Run, entry: RegisteredStep, record: dict[str, Any], reason: str
    ) -> None:
        spec = entry.spec
        manifest = run.manifest
        record.update(
            status="running", reason=reason, started_at=utc_now(), finished_at=None, error=None
        )
        record.pop("outputs", None)
        manifest["steps"][spec.id] = record
        self._save(manifest)
        run.emit("step_started", spec.id, reason=reason, fingerprint=record["fingerprint"])
        started = time.perf_counter()
        try:
            legacy = self._apply_bridges(run, spec.id)
            func = self._import_callable(spec)
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
                    self._upstream_splits(spec.id, manifest),
                ),
                models=Models(self.plugins.models, self.plugins.model_factory),
                legacy=legacy,
                command=self.p.request.command,
                emit=lambda event, fields: run.emit(event, spec.id, **fields),
                metrics_hook=lambda m: self._on_metrics(run, spec, record, m),
            )
            self.plugins.pm.hook.before_step(run=run, step=spec)
            func(ctx)
            # Other ranks write nothing (ctx.output gives them scratch files), so only rank 0 checks.
            outputs = file_records(
                self.run_dir,
                spec.outputs,
                self.hashes,
                required=self.rank.is_main,
                what=f"step {spec.id}: declared output",
            )
        except BaseException as exc:
            message = "interrupted" if isinstance(exc, KeyboardInterrupt) else _describe(exc)
            record.update(
                status="failed",
                error=message,
                finished_at=utc_now(),
                duration_s=round(time.perf_counter() - started, 6),
            )
            self._save(manifest)
            run.emit("step_failed", spec.id, error=message)
            self.plugins.pm.hook.on_step_error(run=run, step=spec, error=exc)
            if not isinstance(exc, Exception):
                raise  # Ctrl+C and exits are not ours to translate
            error = _step_error(spec.id, exc, self.run_dir)
            if error is exc:
                raise
            raise error from exc
        if self.rank.is_main:
            self.store.save(
                record["fingerprint"],
                self.run_dir,
                {o["path"]: o["hash"] for o in outputs},
                {k: record[k] for k in CARRIED if record.get(k)},
            )
        record.update(
            status="completed",
            outputs=outputs,
            finished_at=utc_now(),
            duration_s=round(time.perf_counter() - started, 6),
        )
        self._finish(run, spec.id, record)

    def _upstream_splits(
        self, step_id: str, manifest: dict[str, Any]
    ) -> dict[str, tuple[str, str]]:
        """Split name -> (hash, step) as recorded by the completed steps `step_id` depends on."""
        seen: dict[str, tuple[str, str]] = {}
        for up in sorted(dag.upstream(self.plugins.steps, step_id) - {step_id}):
            record = manifest["steps"].get(up, {})
            if record.get("status") in ("completed", "skipped", "reused"):
                for name, split in record.get("splits", {}).items():
                    seen.setdefault(name, (split["hash"], up))
        return seen

    def _on_metrics(
        self, run: Run, spec: Any, record: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        """Keep each metric's last value in the step's record; tell on_metrics hooks."""
        latest = {k: v for k, v in json_safe(metrics).items() if k != "step"}
        record.setdefault("metrics", {}).update(latest)
        self.plugins.pm.hook.on_metrics(run=run, step=spec, metrics=metrics)

    def _finish(self, run: Run, step_id: str, record: dict[str, Any]) -> None:
        run.manifest["steps"][step_id] = record
        run.manifest["splits"].update(record.get("splits", {}))
        self._save(run.manifest)
        fields: dict[str, Any] = {
            k: record[k] for k in ("status", "reason", "duration_s") if k in record
        }
        fields["outputs"] = [o["path"] for o in record.get("outputs", [])]
        run.emit(f"step_{record['status']}", step_id, **fields)
        self.plugins.pm.hook.after_step(run=run, step=self.p.steps[step_id].spec, result=record)

    def _apply_bridges(self, run: Run, step_id: str) -> dict[str, dict[str, Any]]:
        """Each bridge registered for this step, applied exactly once, recorded."""
        legacy: dict[str, dict[str, Any]] = {}
        for bridge, plugin in self.plugins.bridges:
            if step_id not in bridge.steps:
                continue
            values = import_object(bridge.function)(self.p.configs.get(step_id))
            if not isinstance(values, dict):
                raise UsageError(
                    f"config bridge {bridge.name} ({plugin}) returned {type(values).__name__}, not a dict"
                )
            plain = json.loads(canonical_json(values))
            legacy[bridge.name] = values
            run.manifest["bridges"].setdefault(step_id, {})[bridge.name] = {
                "plugin": plugin,
                "values": plain,
            }
            run.emit("bridge_applied", step_id, bridge=bridge.name, keys=sorted(plain))
        return legacy

    def _import_callable(self, spec: Any) -> Any:
        try:
            func = import_object(spec.run)
        except ImportError as exc:
            raise UsageError(
                f"step {spec.id}: cannot import {spec.run}: {exc}",
                hint="is the plugin installed with its dependencies?",
            ) from exc
        except AttributeError as exc:
            raise UsageError(f"step {spec.id}: {spec.run} does not exist: {exc}") from exc
        if not callable(func):
            raise UsageError(f"step {spec.id}: {spec.run} is not callable")
        return func


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a scheduler's time limit) ends a run like Ctrl+C does: the step
    and the run are recorded as interrupted instead of being left 'running'."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # someone (a launcher, a test harness) already handles it
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _step_error(step_id: str, exc: Exception, run_dir: Path) -> FrameworkError:
    """The one-line error the CLI shows for a step that raised `exc`."""
    if isinstance(exc, FrameworkError):
        if step_id not in exc.message:
            exc.message = f"step {step_id}: {exc.message}"
        if isinstance(exc, (ArtifactError, SplitContractError)):
            exc.exit_code = StepFailedError.exit_code  # the step broke its contract
        return exc  # a user mistake the step found keeps its own exit code
    return StepFailedError(
        f"step {step_id} failed: {_describe(exc)}", hint=f"see {run_dir / 'events.jsonl'}"
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, FrameworkError):
        return str(exc)
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
