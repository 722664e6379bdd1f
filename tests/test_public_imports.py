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
