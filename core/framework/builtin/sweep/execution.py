"""Running a planned sweep: skip what is done, hand the rest to an executor, retry lost
jobs, and keep the sweep manifest current."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from framework import Batch, JobUpdate, Resources
from framework.builtin.sweep.grid import plain
from framework.builtin.sweep.planning import Sweep, up_to_date
from framework.builtin.sweep.record import DONE, SweepRecord, read_sweep_manifest
from framework.config import field
from framework.errors import ConfigError, FrameworkError, UsageError
from framework.request import Flag, as_flags
from framework.steps import did_you_mean


class SweepFailed(FrameworkError):
    """Some jobs of a sweep failed or were lost (exit code 1, like a failed step)."""

    exit_code = 1


@attrs.define
class SweepOptions:
    """The ``sweep:`` section of a config file (flags of `framework sweep` override it)."""

    executor: str = field("local", help="where jobs run: local, process, slurm, ray, or a plugin's")
    max_parallel: int | None = field(None, min=1, help="at most this many jobs at once")
    retries: int = field(0, min=0, help="resubmit a job whose worker died up to N times")
    fail_fast: bool = field(False, help="stop the sweep at the first failed job")
    params: dict[str, list[Any]] = field(
        factory=dict, help="the grid: field (or step.field) -> values"
    )
    filter: list[str] = field(factory=list, help="keep only jobs for which every expression holds")


@attrs.define
class SweepOutcome:
    sweep: Sweep
    manifest: dict[str, Any]
    status: str


def run_sweep(
    sweep: Sweep,
    plugins: Any = None,
    *,
    options: SweepOptions | None = None,
    resources: Resources | None = None,
    settings: Any = None,
    command: Iterable[str] = (),
    on_update: Callable[[dict[str, Any], dict[str, int]], None] | None = None,
    debug: bool = False,
) -> SweepOutcome:
    """Run the sweep's jobs that are not done yet; keep the sweep manifest current.

    `settings` are the executor's own options (an instance of its ``settings`` class);
    without `plugins`, the plugin manager the sweep was planned with.
    """
    plugins = plugins if plugins is not None else sweep.plugins
    options = options or SweepOptions()
    resources = resources or Resources()
    previous = None
    if sweep.manifest_path.exists():
        previous = read_sweep_manifest(sweep.manifest_path)
        if previous.get("target") != sweep.spec.target:
            raise UsageError(
                f"sweep {sweep.sweep_id} in {sweep.folder} is a sweep of {previous.get('target')}, not {sweep.spec.target}",
                hint="choose another --sweep-id",
            )
    executor = plugins.executor(options.executor)
    header = {
        "target": sweep.spec.target,
        "preset": sweep.spec.preset,
        "command": list(command),
        "executor": options.executor,
        "max_parallel": options.max_parallel,
        "retries": options.retries,
        "fail_fast": options.fail_fast,
        "resources": {**attrs.asdict(resources), **(attrs.asdict(settings) if settings else {})},
        "artifact_root": str(sweep.root),
        "parameters": {a.name: [plain(v) for v in a.values] for a in sweep.spec.axes},
        "filters": list(sweep.spec.filters),
        "config_file": sweep.spec.config_file,
        "sets": list(sweep.spec.sets),
    }
    record = SweepRecord(sweep, header, previous)
    notify = on_update or (lambda entry, counts: None)

    def report(update: JobUpdate) -> None:
        entry = record.update(update)
        notify(entry, record.counts())

    todo = []
    for job in sweep.jobs:
        assert job.request is not None
        if getattr(executor, "shares_terminal", False):  # a terminal shared with the table
            job.request.flags.setdefault("quiet", Flag(True, f"sweep ({executor.name} executor)"))
        if not sweep.spec.force and up_to_date(job.request, plugins):
            entry = record.by_id[job.run_id]
            entry.update(status="skipped", reason="done and up to date")
            entry["manifest"] = str(Path(entry["run_dir"]) / "manifest.json")
            notify(entry, record.counts())
        else:
            todo.append(job)
    record.save()
    status = "failed"
    try:
        retried: dict[str, int] = {}
        while todo:
            batch = Batch(
                [j.request for j in todo if j.request is not None],
                resources,
                options.max_parallel,
                options.fail_fast,
                sweep.folder / "logs",
                report,
                plugins,
                debug,
                settings,
            )
            executor.run(batch)
            failed = [j for j in todo if record.by_id[j.run_id]["status"] == "failed"]
            if failed and options.fail_fast:
                break
            todo = [
                j
                for j in todo
                if record.by_id[j.run_id]["status"] == "lost"
                and retried.get(j.run_id, 0) < options.retries
            ]
            for job in todo:
                retried[job.run_id] = retried.get(job.run_id, 0) + 1
        statuses = {e["status"] for e in record.by_id.values()}
        status = "completed" if statuses <= set(DONE) else "failed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        with record.lock:
            for entry in record.by_id.values():
                if entry["status"] in ("planned", "queued", "running"):
                    entry["status"] = "cancelled"
            record.data["status"] = status
            record.save()
    return SweepOutcome(sweep, record.data, status)


def failure_message(outcome: SweepOutcome) -> SweepFailed | None:
    ours = {j.run_id for j in outcome.sweep.jobs}
    jobs = [j for j in outcome.manifest["jobs"] if j["run_id"] in ours]
    bad = [j for j in jobs if j["status"] not in DONE]
    if not bad:
        return None
    first = bad[0]
    return SweepFailed(
        f"{len(bad)} of {len(jobs)} sweep jobs did not complete; "
        f"first: {first['run_id']} {first['status']}: {first.get('error') or '-'}",
        hint=f"see {outcome.sweep.manifest_path}; run the same command again to retry them",
    )


def load_options(
    config_file: str | None,
    flags: Mapping[str, Any],
    settings: Mapping[str, type] | None = None,
) -> tuple[SweepOptions, Resources, Any]:
    """Sweep options, resources and the chosen executor's settings: defaults < the file's
    ``sweep:`` section < flags.

    `settings` maps an executor name to its settings class; the section and the flags may
    set the fields of any of them, and the chosen executor's are built.
    """
    from framework.config import ConfigResolver, Section, load_config_file

    sections = [Section("sweep", SweepOptions), Section("resources", Resources)]
    sections += [Section(f"executor {name}", cls) for name, cls in (settings or {}).items()]
    resolver = ConfigResolver(sections, {})
    if config_file:
        data = load_config_file(config_file)
        section = data.get("sweep") or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{config_file}: $.sweep: expected a mapping of sweep options")
        for key in section:
            if key not in resolver.all_field_names():
                raise ConfigError(
                    f"{config_file}: $.sweep.{key}: unknown sweep option"
                    f"{did_you_mean(str(key), resolver.all_field_names())}",
                    hint="see 'framework sweep --help'",
                )
        resolver.apply_file(section, f"{config_file} (sweep)")
    for name, flag in as_flags(dict(flags)).items():
        resolver.apply_flag(name, flag.value, flag.source)
    resolver.validate()
    options = resolver.build("sweep")
    chosen = f"executor {options.executor}"
    return (
        options,
        resolver.build("resources"),
        resolver.build(chosen) if chosen in resolver.sections else None,
    )
