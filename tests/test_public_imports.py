"""Plugins use only the public API: names exported by `framework/__init__.py`."""

from __future__ import annotations

import ast
from pathlib import Path

import framework

ROOT = Path(__file__).resolve().parents[1]
# Modules exported whole by `framework/__init__.py` (``from framework import distributed``).
PUBLIC_MODULES = {"distributed"}


def plugin_sources() -> list[Path]:
    return sorted(
        path
        for folder in ("plugins", "examples")
        for path in (ROOT / folder).glob("*/**/*.py")
        if ".egg-info" not in str(path)
    )


def private_imports(source: str) -> list[str]:
    """``line: framework.<module>`` for each private import in `source`, and for each
    name imported from `framework` that it does not export."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "framework":
                found += [
                    f"{node.lineno}: framework.{alias.name}"
                    for alias in node.names
                    if alias.name not in framework.__all__
                ]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "framework" and len(parts) > 1 and parts[1] not in PUBLIC_MODULES:
                found.append(f"{node.lineno}: {module}")
    return found


def test_no_plugin_imports_a_private_module_of_framework():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in plugin_sources()
        for line in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_walk_sees_every_plugin():
    names = {p.relative_to(ROOT).parts[1] for p in plugin_sources()}
    assert {"classifier", "lm", "ptycho", "slurm", "ray", "hello-plugin"} <= names


def test_the_walk_catches_private_modules_and_unexported_names():
    source = (
        "import framework\n"
        "from framework import Step, distributed\n"
        "def f():\n"
        "    from framework.sweeps import plan_sweep\n"
        "    import framework.runner\n"
        "    from framework import Plugins\n"
        "    from framework.distributed import shard\n"
    )
    assert private_imports(source) == [
        "4: framework.sweeps",
        "5: framework.runner",
        "6: framework.Plugins",
    ]


# -- the core and its built-in plugins ------------------------------------------------

CORE = ROOT / "core" / "framework"
BUILTIN = CORE / "builtin"
# The public API (`framework/__init__.py`) names the built-in executor and sweep
# functions, imported on first use; no other core module may reach into builtin/.
FACADE = CORE / "__init__.py"


def imported_modules(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import in `source`, typing-only ones too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "framework.builtin":
                found += [(node.lineno, f"framework.builtin.{a.name}") for a in node.names]
    return found


def builtin_plugin_of(path: Path) -> str | None:
    """The built-in plugin a source file belongs to (``sweep`` for builtin/sweep/record.py)."""
    if BUILTIN not in path.parents:
        return None
    return path.relative_to(BUILTIN).parts[0].removesuffix(".py")


def crossings(path: Path, source: str) -> list[str]:
    """The imports of `path` that cross a line: core -> builtin, or builtin -> another one."""
    own = builtin_plugin_of(path)
    found = []
    for line, module in imported_modules(source):
        parts = module.split(".")
        if parts[:2] != ["framework", "builtin"] or len(parts) < 3:
            continue
        if (own is None and path != FACADE) or (own is not None and parts[2] != own):
            found.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    return found


def test_the_core_imports_no_builtin_plugin_and_no_plugin_another():
    found = [
        crossing
        for path in sorted(CORE.rglob("*.py"))
        for crossing in crossings(path, path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_crossing_check_catches_core_to_builtin_and_builtin_to_builtin():
    source = (
        "from framework.builtin.sweep.record import STATUSES\n"
        "from framework.builtin import console\n"
        "import framework.builtin.executors.batch\n"
        "from framework import Batch\n"
    )
    core, sweep = CORE / "context.py", BUILTIN / "sweep" / "view.py"

    assert crossings(core, source) == [
        "core/framework/context.py:1: framework.builtin.sweep.record",
        "core/framework/context.py:2: framework.builtin.console",
        "core/framework/context.py:3: framework.builtin.executors.batch",
    ]
    assert crossings(sweep, source) == [
        "core/framework/builtin/sweep/view.py:2: framework.builtin.console",
        "core/framework/builtin/sweep/view.py:3: framework.builtin.executors.batch",
    ]
    assert crossings(BUILTIN / "console" / "progress.py", source)[-1].endswith("executors.batch")
