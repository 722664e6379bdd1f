"""Planning a sweep: every job of the grid typed, filtered, named and checked before
anything is submitted.

The sweep id is derived from what defines the sweep (target, axes, filters, base
config), so running the same command again resumes it: finished jobs are skipped,
failed, lost and missing ones run again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from framework.builtin.sweep.filters import Filter, apply_filters
from framework.builtin.sweep.grid import Axis, preset_axes
from framework.builtin.sweep.record import SWEEP_MANIFEST, SWEEPS_DIR
from framework.config import format_text, parse_text
from framework.errors import FrameworkError, UsageError
from framework.runner import RunRequest, artifact_root, prepare, resolve_plan
from framework.steps import did_you_mean

RUN_ID_MAX = 80


@attrs.define
class SweepJob:
    index: int
    parameters: dict[str, Any]  # axis -> value (a bundle's label)
    assignments: dict[str, Any]  # field or step.field -> value
    run_id: str = ""
    request: RunRequest | None = None


@attrs.define
class SweepSpec:
    """What defines a sweep (and so its id): target, grid, filters and the base config."""

    target: str
    axes: list[Axis]
    filters: list[str] = attrs.Factory(list)
    preset: str | None = None
    base_flags: dict[str, Any] = attrs.Factory(dict)  # field -> (text, flag as typed)
    sets: list[str] = attrs.Factory(list)
    config_file: str | None = None
    force: bool = False
    base_args: list[str] = attrs.Factory(list)  # the user's own run options, as typed
    nproc_per_node: int = 1  # processes per job (torch's launcher); not part of the identity

    def identity(self) -> str:
        """A hash of what makes two sweeps the same experiment."""
        # Not the values of the axes nor the filters: adding a value to an axis, or
        # running a filtered part first, keeps the sweep and the jobs already done.
        data = {
            "target": self.target,
            "preset": self.preset,
            "axes": sorted(a.name for a in self.axes),
            "flags": {k: v[0] for k, v in sorted(self.base_flags.items())},
            "sets": self.sets,
            "config_file": str(Path(self.config_file).resolve()) if self.config_file else None,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def expand(axes: list[Axis]) -> list[SweepJob]:
    """The cartesian product of the axes, first axis slowest."""
    jobs = []
    for index, combo in enumerate(itertools.product(*(a.values for a in axes))):
        parameters = {a.name: v for a, v in zip(axes, combo, strict=True)}
        assignments: dict[str, Any] = {}
        for axis, value in zip(axes, combo, strict=True):
            assignments.update(axis.assignments(value))
        jobs.append(SweepJob(index, parameters, assignments))
    return jobs


def type_axes(axes: list[Axis], plugins: Any, plan: list[str]) -> list[Axis]:
    """Text values from the command line become values of the field's type."""
    from framework.runner import config_sections, short_names

    sections = {s.key: s for s in config_sections(plugins, plan)}
    shorts = short_names(plugins, plan)
    typed = []
    for axis in axes:
        names = (
            sorted({k for b in axis.bundles.values() for k in b})
            if axis.bundles is not None
            else [axis.name]
        )
        fields = {}
        for key in names:
            step, _, name = key.rpartition(".")
            if step:
                section = sections.get(step) or sections.get(shorts.get(step, ""))
                owners = [section] if section is not None else []
            else:
                owners = [s for s in sections.values() if name in s.field_names()]
            found = [f for s in owners for f in s.fields() if f.name == name]
            if not found:
                candidates = sorted({f.name for s in sections.values() for f in s.fields()})
                raise UsageError(
                    f"-p {key}: no step of the plan for {plan[-1]} has a field '{key}'"
                    f"{did_you_mean(name, candidates)}",
                    hint=f"see 'framework run {plan[-1]} --help' for the fields",
                )
            fields[key] = found[0]
        if axis.bundles is not None:
            typed.append(axis)
            continue
        values = []
        for value in axis.values:
            try:
                values.append(
                    parse_text(value, fields[axis.name].type) if isinstance(value, str) else value
                )
            except ValueError as exc:
                raise UsageError(f"-p {axis.name}: {exc}") from None
        typed.append(Axis(axis.name, tuple(dict.fromkeys(values))))  # 1 and 1.0: one job
    return typed


_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


def job_run_id(sweep_id: str, parameters: Mapping[str, Any]) -> str:
    """``<sweep>-lr=0.001_layers=2``: readable; hashed when it would be too long."""
    slug = "_".join(f"{k}={format_text(v, short=True)}" for k, v in parameters.items())
    slug = _UNSAFE.sub("-", slug).strip("-.") or "job"
    run_id = f"{sweep_id}-{slug}"
    if len(run_id) > RUN_ID_MAX:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:10]
        run_id = f"{sweep_id}-{slug[: RUN_ID_MAX - len(sweep_id) - 12]}-{digest}"
    return run_id


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def job_request(spec: SweepSpec, job: SweepJob, root: Path) -> RunRequest:
    """The run request of one job; its `command` is the `framework run` that repeats it."""
    flags = dict(spec.base_flags)
    sets = list(spec.sets)
    args = list(spec.base_args)
    for key, value in job.assignments.items():
        if "." in key:
            sets.append(f"{key}={format_text(value)}")
            args += ["--set", f"{key}={format_text(value)}"]
        else:
            flags[key] = (value, f"{spec.preset or 'sweep'} {key}")
            args += [_option(key), format_text(value)]
    return RunRequest(
        target=spec.target,
        artifact_root=str(root),
        run_id=job.run_id,
        config_file=str(Path(spec.config_file).resolve()) if spec.config_file else None,
        flags=flags,
        sets=sets,
        force=spec.force,
        command=["framework", "run", spec.target, "--run-id", job.run_id, *args]
        + (["--nproc-per-node", str(spec.nproc_per_node)] if spec.nproc_per_node > 1 else []),
        nproc_per_node=spec.nproc_per_node,
    )


# -- the sweep --------------------------------------------------------------------------


@attrs.define
class Sweep:
    """A planned sweep: its jobs, where it lives, and its manifest."""

    spec: SweepSpec
    sweep_id: str
    root: Path
    jobs: list[SweepJob]
    plan: list[str]
    plugins: Any = attrs.field(default=None, repr=False, eq=False)  # what planned it

    @property
    def folder(self) -> Path:
        return self.root / SWEEPS_DIR / self.sweep_id

    @property
    def manifest_path(self) -> Path:
        return self.folder / SWEEP_MANIFEST


def plan_sweep(
    spec: SweepSpec,
    plugins: Any = None,
    *,
    sweep_id: str | None = None,
    root: str | None = None,
) -> Sweep:
    """Expand, type, filter and validate every job; raises before anything is submitted."""
    if plugins is None:
        from framework.plugins import Plugins

        plugins = Plugins()
    target, plan = resolve_plan(plugins, spec.target, only=False)
    spec = attrs.evolve(spec, target=target, axes=type_axes(spec.axes, plugins, plan))
    if not spec.axes:
        raise UsageError(
            "nothing to sweep over: give -p FIELD=V1,V2 or --preset NAME",
            hint="e.g. framework sweep lm.train -p learning_rate=1e-3,3e-3",
        )
    jobs = expand(spec.axes)
    filters = [Filter(text) for text in spec.filters]
    visible = [{**j.parameters, **j.assignments} for j in jobs]  # what each job sets
    kept = {id(v) for v in apply_filters(visible, filters)}
    jobs = [j for j, v in zip(jobs, visible, strict=True) if id(v) in kept]
    if not jobs:
        raise UsageError(
            f"no job of the sweep passes the filters ({'; '.join(spec.filters)})",
            hint="loosen --filter, or check the values with --dry-run and no filter",
        )
    base = artifact_root(root).resolve()
    sid = sweep_id or f"{plugins.steps.get(target).spec.name}-{spec.identity()[:10]}"
    from framework.manifest import check_run_id

    check_run_id(sid)
    seen: set[str] = set()
    for job in jobs:
        job.run_id = job_run_id(sid, job.parameters)
        if job.run_id in seen:
            job.run_id = f"{job.run_id}-{job.index}"
        seen.add(job.run_id)
        job.request = job_request(spec, job, base)
        try:
            prepare(job.request, plugins, plan=(target, plan))
        except FrameworkError as exc:
            raise type(exc)(f"sweep job {job.run_id}: {exc.message}", hint=exc.hint) from None
    return Sweep(spec, sid, base, jobs, plan, plugins)


def up_to_date(request: RunRequest, plugins: Any) -> bool:
    """Whether the job's run is complete and every step would be skipped."""
    from framework.manifest import read_manifest
    from framework.runner import PlanRunner

    run_dir = artifact_root(request.artifact_root) / str(request.run_id)
    if not (run_dir / "manifest.json").is_file():
        return False
    try:
        if read_manifest(run_dir, validate=False).get("status") != "completed":
            return False
        return not PlanRunner(prepare(request, plugins), plugins).stale_steps()
    except FrameworkError:
        return False


def preset_spec(name: str, plugins: Any = None, **spec: Any) -> SweepSpec:
    """A sweep of the registered preset `name` (its step and matrix); `spec` adds filters,
    base flags, a config file ... as `SweepSpec` takes them."""
    if plugins is None:
        from framework.plugins import Plugins

        plugins = Plugins()
    presets = {p.name: p for p, _ in plugins.sweeps}
    if name not in presets:
        raise UsageError(
            f"unknown sweep preset '{name}'{did_you_mean(name, presets)}",
            hint="see 'framework sweep --presets'",
        )
    preset = presets[name]
    return SweepSpec(target=preset.step, axes=preset_axes(preset.matrix), preset=name, **spec)
