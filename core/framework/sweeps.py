"""Sweeps: one step over a grid of parameters, each job its own run, on any executor.

`framework sweep lm.train -p learning_rate=1e-3,3e-3 -p n_layer=2,4` expands the grid
(or a plugin's named preset), drops the jobs a ``--filter`` rejects, checks every job's
config before anything is submitted, skips jobs that are already done and up to date,
hands the rest to an executor, and keeps ``<root>/sweeps/<id>/sweep_manifest.json``
current as jobs move from queued to running to done. The sweep id is derived from what
defines the sweep (target, axes, filters, base config), so running the same command
again resumes it: finished jobs are skipped, failed, lost and missing ones run again.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import operator
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from framework.atomic import atomic_write_text
from framework.config import field, format_text, parse_text
from framework.errors import ConfigError, FrameworkError, ManifestError, UsageError
from framework.executors import FINAL, Batch, JobUpdate, Resources
from framework.manifest import utc_now
from framework.runner import RunRequest, artifact_root, prepare, resolve_plan
from framework.steps import did_you_mean

SWEEP_SCHEMA_VERSION = 1
SWEEP_MANIFEST = "sweep_manifest.json"
SWEEPS_DIR = "sweeps"
RUN_ID_MAX = 80
# A job's status in the sweep manifest: planned (dry run), the executor states, and
# skipped (done and up to date before the sweep started).
STATUSES = ("planned", "queued", "running", "skipped", *FINAL)
DONE = ("completed", "skipped")


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


# -- the grid ---------------------------------------------------------------------------


@attrs.frozen
class Axis:
    """One dimension of the grid.

    Plain axes set one field (``lr`` -> ``--lr``; ``train.lr`` -> ``--set train.lr``).
    A bundle axis has named values that each set several fields (a preset's ``view``).
    """

    name: str
    values: tuple[Any, ...]
    bundles: Mapping[str, Mapping[str, Any]] | None = None

    def assignments(self, value: Any) -> dict[str, Any]:
        return dict(self.bundles[value]) if self.bundles is not None else {self.name: value}


def split_values(text: str) -> list[str]:
    """``1e-3,3e-3`` -> two values; commas inside brackets stay (``[1,2],[3,4]``)."""
    out, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += {"[": 1, "(": 1, "]": -1, ")": -1}.get(ch, 0)
        current += ch
    out.append(current)
    values = [v.strip() for v in out]
    return [v[1:-1] if v.startswith("[") and v.endswith("]") else v for v in values]


def parse_param(text: str) -> Axis:
    """``-p key=v1,v2`` -> an axis (values still text; typed against the plan later)."""
    name, eq, values = text.partition("=")
    name = name.strip().lstrip("-")
    if not eq or not name or not values.strip():
        raise UsageError(
            f"-p {text!r}: expected FIELD=VALUE1,VALUE2 (e.g. -p learning_rate=1e-3,3e-3)"
        )
    parts = split_values(values)
    if any(p == "" for p in parts):
        raise UsageError(f"-p {text!r}: empty value in the list")
    return Axis(name.replace("-", "_") if "." not in name else name, tuple(parts))


def preset_axes(matrix: Mapping[str, Any]) -> list[Axis]:
    """A preset's matrix: name -> sequence of values, or name -> {label: {field: value}}."""
    axes = []
    for name, values in matrix.items():
        if isinstance(values, Mapping):
            axes.append(Axis(name, tuple(values), {str(k): dict(v) for k, v in values.items()}))
        else:
            axes.append(Axis(name, tuple(values)))
    return axes


def merge_axes(base: list[Axis], override: list[Axis]) -> list[Axis]:
    """`override` (from -p) replaces axes of the same name, and adds new ones at the end."""
    names = {a.name for a in override}
    replaced = [
        next(o for o in override if o.name == a.name) if a.name in names else a for a in base
    ]
    seen = {a.name for a in base}
    return replaced + [a for a in override if a.name not in seen]


# -- filters ----------------------------------------------------------------------------

_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class Filter:
    """A boolean expression over a job's parameters, evaluated without `eval`.

    Comparisons, ``and``/``or``/``not``, arithmetic, ``in`` with lists, numbers and
    strings; names are the sweep's parameters (``train.lr`` included).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise UsageError(
                f"--filter {text!r}: not an expression ({exc.msg})",
                hint="e.g. --filter \"nphotons >= 1e4 and view != 'sparse'\"",
            ) from None
        self.names: set[str] = set()
        self._check(self.tree)

    def _name(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            inner = self._name(node.value)
            return f"{inner}.{node.attr}" if inner else None
        return None

    def _check(self, node: ast.AST) -> None:
        name = self._name(node)
        if name is not None:
            self.names.add(name)
            return
        allowed = (
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.UAdd,
            ast.Compare,
            ast.BinOp,
            ast.Constant,
            ast.List,
            ast.Tuple,
            ast.Load,
            *_COMPARE,
            *_BINARY,
        )
        if not isinstance(node, allowed):
            raise UsageError(
                f"--filter {self.text!r}: {type(node).__name__} is not allowed",
                hint="use comparisons, and/or/not, arithmetic and lists",
            )
        for child in ast.iter_child_nodes(node):
            self._check(child)

    def __call__(self, values: Mapping[str, Any]) -> bool:
        return bool(self._eval(self.tree, values))

    def _eval(self, node: ast.AST, values: Mapping[str, Any]) -> Any:
        name = self._name(node)
        if name is not None:
            return values[name]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(e, values) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            parts = (self._eval(v, values) for v in node.values)
            return all(parts) if isinstance(node.op, ast.And) else any(parts)
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, values)
            if isinstance(node.op, ast.Not):
                return not operand
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](
                self._eval(node.left, values), self._eval(node.right, values)
            )
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, values)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self._eval(right_node, values)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise AssertionError(node)  # _check let through a node _eval does not know


def apply_filters(jobs: list[dict[str, Any]], filters: list[Filter]) -> list[dict[str, Any]]:
    """The jobs (name -> value, bundle fields included) every filter accepts."""
    if not jobs or not filters:
        return jobs
    known = set(jobs[0])
    for f in filters:
        unknown = sorted(f.names - known)
        if unknown:
            raise UsageError(
                f"--filter {f.text!r}: unknown name '{unknown[0]}'{did_you_mean(unknown[0], known)}",
                hint=f"names are the sweep's parameters: {', '.join(sorted(known))}",
            )
    kept = []
    for job in jobs:
        try:
            if all(f(job) for f in filters):
                kept.append(job)
        except TypeError as exc:
            raise UsageError(
                f"--filter: cannot evaluate for {json.dumps(job, default=str)}: {exc}",
                hint="compare numbers with numbers and text with quoted text",
            ) from None
    return kept


# -- jobs -------------------------------------------------------------------------------


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


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


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

    @property
    def folder(self) -> Path:
        return self.root / SWEEPS_DIR / self.sweep_id

    @property
    def manifest_path(self) -> Path:
        return self.folder / SWEEP_MANIFEST


def plan_sweep(
    spec: SweepSpec,
    plugins: Any,
    *,
    sweep_id: str | None = None,
    root: str | None = None,
) -> Sweep:
    """Expand, type, filter and validate every job; raises before anything is submitted."""
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
    return Sweep(spec, sid, base, jobs, plan)


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


class SweepRecord:
    """The sweep manifest in memory, written atomically on every change."""

    def __init__(self, sweep: Sweep, header: dict[str, Any], previous: dict[str, Any] | None):
        self.sweep = sweep
        self.lock = threading.Lock()
        old_jobs = {j["run_id"]: j for j in (previous or {}).get("jobs", [])}
        self.data: dict[str, Any] = {
            "schema_version": SWEEP_SCHEMA_VERSION,
            "sweep_id": sweep.sweep_id,
            "created_at": (previous or {}).get("created_at") or utc_now(),
            "updated_at": utc_now(),
            "status": "running",
            **header,
            "jobs": [],
        }
        self.by_id: dict[str, dict[str, Any]] = {}
        for job in sweep.jobs:
            old = old_jobs.get(job.run_id, {})
            entry = {
                "index": job.index,
                "run_id": job.run_id,
                "run_dir": str(sweep.root / job.run_id),
                "parameters": {k: _plain(v) for k, v in job.parameters.items()},
                "status": "planned",
                "attempts": int(old.get("attempts", 0)),
                "where": old.get("where"),
                "error": None,
                "command": list(job.request.command) if job.request else [],
            }
            self.data["jobs"].append(entry)
            self.by_id[job.run_id] = entry
        # Jobs of an earlier invocation that this one leaves out (a filter) stay listed.
        for run_id, old in old_jobs.items():
            if run_id not in self.by_id:
                self.data["jobs"].append(old)

    def update(self, update: JobUpdate) -> dict[str, Any]:
        with self.lock:
            entry = self.by_id[update.run_id]
            entry["status"] = update.status
            now = utc_now()
            if update.where:
                entry["where"] = update.where
            if update.status == "queued":
                entry.update(queued_at=now, started_at=None, finished_at=None, error=None)
                entry.pop("traceback", None)
                entry.pop("duration_s", None)
                entry["_t0"] = None
            elif update.status == "running":
                entry["attempts"] += 1
                entry["started_at"] = now
                entry["_t0"] = time.monotonic()
            else:
                if entry.get("started_at") is None and update.status != "cancelled":
                    entry["attempts"] += 1  # an engine that never said it started
                entry["finished_at"] = now
                if entry.get("_t0") is not None:
                    entry["duration_s"] = round(time.monotonic() - entry["_t0"], 3)
                if update.error:
                    entry["error"] = update.error
                if update.traceback:
                    entry["traceback"] = update.traceback
                if update.status in ("completed", "failed", "interrupted"):
                    entry["manifest"] = str(Path(entry["run_dir"]) / "manifest.json")
            self.save()
            return entry

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.data["jobs"]:
            out[entry["status"]] = out.get(entry["status"], 0) + 1
        return out

    def save(self) -> None:
        self.data["updated_at"] = utc_now()
        self.data["counts"] = self.counts()
        data = dict(self.data)
        data["jobs"] = [{k: v for k, v in j.items() if not k.startswith("_")} for j in data["jobs"]]
        self.sweep.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.sweep.manifest_path, json.dumps(data, indent=2, allow_nan=False) + "\n"
        )


def read_sweep_manifest(path: Path) -> dict[str, Any]:
    """Load a sweep manifest, refusing a damaged one (never silently replaced)."""
    import jsonschema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"sweep manifest {path} is unreadable: {exc}",
            hint="move it away to start the sweep afresh",
        ) from None
    errors = list(jsonschema.Draft202012Validator(SWEEP_MANIFEST_SCHEMA).iter_errors(data))
    if errors:
        where = "$" + "".join(
            f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in errors[0].absolute_path
        )
        raise ManifestError(
            f"sweep manifest {path} is invalid at {where}: {errors[0].message}",
            hint="move it away to start the sweep afresh",
        )
    return data


@attrs.define
class SweepOutcome:
    sweep: Sweep
    manifest: dict[str, Any]
    status: str


def run_sweep(
    sweep: Sweep,
    plugins: Any,
    *,
    options: SweepOptions,
    resources: Resources,
    command: Iterable[str] = (),
    on_update: Callable[[dict[str, Any], dict[str, int]], None] | None = None,
    debug: bool = False,
) -> SweepOutcome:
    """Run the sweep's jobs that are not done yet; keep the sweep manifest current."""
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
        "resources": attrs.asdict(resources),
        "artifact_root": str(sweep.root),
        "parameters": {a.name: [_plain(v) for v in a.values] for a in sweep.spec.axes},
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
        if executor.name == "local":  # the jobs share this terminal with the sweep's table
            job.request.flags.setdefault("quiet", (True, "sweep (local executor)"))
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
    config_file: str | None, flags: Mapping[str, Any]
) -> tuple[SweepOptions, Resources, dict[str, Any]]:
    """Sweep options and resources: defaults < the file's ``sweep:`` section < flags.

    Returns them and the section's raw values (for params/filter from the file).
    """
    from framework.config import ConfigResolver, Section, load_config_file

    resolver = ConfigResolver([Section("sweep", SweepOptions), Section("resources", Resources)], {})
    section: dict[str, Any] = {}
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
    for name, (value, flag) in flags.items():
        resolver.apply_flag(name, value, flag)
    resolver.validate()
    return resolver.build("sweep"), resolver.build("resources"), section


SWEEP_MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "framework sweep manifest",
    "type": "object",
    "required": [
        "schema_version",
        "sweep_id",
        "status",
        "target",
        "executor",
        "created_at",
        "updated_at",
        "parameters",
        "jobs",
    ],
    "properties": {
        "schema_version": {"const": SWEEP_SCHEMA_VERSION},
        "sweep_id": {"type": "string", "minLength": 1},
        "status": {"enum": ["running", "completed", "failed", "interrupted"]},
        "target": {"type": "string"},
        "preset": {"type": ["string", "null"]},
        "command": {"type": "array", "items": {"type": "string"}},
        "executor": {"type": "string"},
        "max_parallel": {"type": ["integer", "null"], "minimum": 1},
        "retries": {"type": "integer", "minimum": 0},
        "fail_fast": {"type": "boolean"},
        "resources": {"type": "object"},
        "artifact_root": {"type": "string"},
        "parameters": {
            "type": "object",
            "description": "the grid: axis -> values",
            "additionalProperties": {"type": "array"},
        },
        "filters": {"type": "array", "items": {"type": "string"}},
        "config_file": {"type": ["string", "null"]},
        "sets": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "jobs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "run_id", "run_dir", "parameters", "status", "attempts"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "run_id": {"type": "string", "minLength": 1},
                    "run_dir": {"type": "string"},
                    "parameters": {"type": "object"},
                    "status": {"enum": list(STATUSES)},
                    "reason": {"type": "string"},
                    "attempts": {"type": "integer", "minimum": 0},
                    "where": {
                        "type": ["string", "null"],
                        "description": "host:pid, Slurm job id or Ray node it ran on",
                    },
                    "error": {"type": ["string", "null"]},
                    "traceback": {"type": "string"},
                    "command": {"type": "array", "items": {"type": "string"}},
                    "manifest": {"type": "string", "description": "the job's run manifest"},
                    "queued_at": {"type": ["string", "null"]},
                    "started_at": {"type": ["string", "null"]},
                    "finished_at": {"type": ["string", "null"]},
                    "duration_s": {"type": "number", "minimum": 0},
                },
            },
        },
    },
}


# -- looking back ---------------------------------------------------------------------------


def list_sweeps(root: Path) -> list[dict[str, Any]]:
    """The sweep manifests under `root`, oldest first (unreadable ones are skipped)."""
    found = []
    for path in sorted((root / SWEEPS_DIR).glob(f"*/{SWEEP_MANIFEST}")):
        try:
            found.append(read_sweep_manifest(path))
        except ManifestError:
            continue
    return sorted(found, key=lambda m: (m["created_at"], m["sweep_id"]))


def find_sweep(root: Path, sweep_id: str) -> dict[str, Any]:
    if sweep_id == "latest":
        sweeps = list_sweeps(root)
        if not sweeps:
            raise UsageError(f"no sweeps under {root / SWEEPS_DIR}")
        return sweeps[-1]
    path = root / SWEEPS_DIR / sweep_id / SWEEP_MANIFEST
    if not path.is_file():
        known = [m["sweep_id"] for m in list_sweeps(root)]
        raise UsageError(
            f"no sweep '{sweep_id}' under {root / SWEEPS_DIR}{did_you_mean(sweep_id, known)}",
            hint="see 'framework sweeps'",
        )
    return read_sweep_manifest(path)


def job_metrics(job: dict[str, Any], target: str) -> dict[str, Any]:
    """The metrics the job's run recorded for the sweep's target step (empty if none)."""
    from framework.manifest import read_manifest

    run_dir = Path(job["run_dir"])
    if not (run_dir / "manifest.json").is_file():
        return {}
    try:
        run = read_manifest(run_dir, validate=False)
    except ManifestError:
        return {}
    return dict(run.get("steps", {}).get(target, {}).get("metrics", {}))
