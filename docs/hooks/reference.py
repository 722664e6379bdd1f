"""mkdocs hook: fill the generated parts of the docs from the code, so nothing is written twice.

A page asks for a generated part with an HTML comment on a line of its own:

- ``<!-- generated: cli -->``: every command of the ``framework`` click group (plugin
  commands included), with its usage, help and options;
- ``<!-- generated: hooks -->``: every hook specification with its signature and docstring;
- ``<!-- generated: modules -->``: one line per module of the core, from its docstring;
- ``<!-- generated: plugin-hooks -->``: the hooks each built-in and bundled plugin implements.

It imports what ``framework --help`` imports (click, pluggy, the plugins' registration
modules), never torch or a plugin's internals; the module list is read with ``ast``.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: _generate(m.group(1)), markdown)


def _generate(name: str) -> str:
    makers = {
        "cli": cli_reference,
        "hooks": hooks_reference,
        "modules": module_tree,
        "plugin-hooks": plugin_hooks,
    }
    if name not in makers:
        raise ValueError(f"unknown generated part {name!r}; known: {', '.join(makers)}")
    return makers[name]()


# -- the CLI --------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option_rows(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        kind = param.make_metavar(ctx) if not param.is_flag else ""
        if isinstance(param.type, click.Choice):
            kind = "|".join(str(c) for c in param.type.choices)
        default = param.default
        unset = default in (None, False, ()) or type(default).__name__ == "Sentinel"
        help_text = param.help or ""
        show = "" if unset or param.is_flag or "[default" in help_text else f" [default: {default}]"
        rows.append(f"| {names} | {_cell(kind)} | {_cell(help_text + show)} |")
    return rows


def _help_markdown(text: str) -> list[str]:
    """Click help as Markdown: a paragraph click keeps as written (``\\b``) becomes a code block."""
    lines: list[str] = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        if paragraph.startswith("\b"):
            body = inspect.cleandoc(paragraph[1:].strip("\n"))
            lines += ["```text", body, "```", ""]
        else:
            lines += [" ".join(paragraph.split()).replace("<", "&lt;"), ""]
    return lines


def _command_section(command: click.Command, ctx: click.Context, path: str) -> list[str]:
    lines = [f"### `{path}`", ""]
    lines += _help_markdown(command.help or command.short_help or "")
    pieces = command.collect_usage_pieces(ctx)
    lines += ["```text", f"Usage: {path} {' '.join(pieces)}".rstrip(), "```", ""]
    rows = _option_rows(command, ctx)
    if rows:
        lines += ["| option | value | meaning |", "|---|---|---|", *rows, ""]
    return lines


def cli_reference() -> str:
    from framework.cli import cli

    root = click.Context(cli, info_name="framework")
    lines = ["## Global options", ""]
    lines += ["| option | value | meaning |", "|---|---|---|", *_option_rows(cli, root), ""]
    lines += ["## Commands", ""]
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        if command is None:
            continue
        sub = click.Context(command, info_name=name, parent=root)
        lines += _command_section(command, sub, f"framework {name}")
        if name in ("run", "sweep"):
            lines += _plan_options(name, root)
    return "\n".join(lines)


def _plan_options(name: str, root: click.Context) -> list[str]:
    """`run` and `sweep` build their options from the plan: the fixed ones, then the fields."""
    from framework.builtin.sweep.commands import _sweep_options
    from framework.cli.options import run_options
    from framework.execution import ExecutionSettings

    fixed = run_options("runs") if name == "run" else _sweep_options("runs")
    from framework.plugins import Plugins

    if name == "run":  # and the options plugins add to it (the launcher's --nproc-per-node ...)
        extensions = Plugins().cli_extensions
        fixed += [item for item, _ in extensions if isinstance(item, click.Option)]
    else:  # and the installed executors' own options (--partition, --ray-address ...)
        from framework.builtin.sweep.settings import executor_settings, settings_options

        taken = {opt for param in fixed for opt in getattr(param, "opts", [])}
        fixed[-2:-2] = settings_options(executor_settings(Plugins()), taken)
    command = click.Command(f"{name} STEP", params=fixed)
    rows = _option_rows(command, click.Context(command, info_name=f"{name} STEP", parent=root))
    lines = [f"Options of `framework {name} STEP`, whatever the step:", ""]
    lines += ["| option | value | meaning |", "|---|---|---|", *rows, ""]
    if name == "sweep":
        return [
            *lines,
            "Then the options of `framework run STEP`: they set the base config of every job.",
            "",
        ]
    return [
        *lines,
        "Execution settings, shared by every step of the plan (the `execution:` "
        "section of a config file):",
        "",
        *_field_rows(ExecutionSettings),
        "",
        "Then one option per config field of the plan's steps: `framework run STEP --help` "
        "lists them, `framework describe STEP` describes each step's fields.",
        "",
    ]


def _field_rows(cls: type) -> list[str]:
    from framework.config import Section

    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for f in Section("execution", cls).fields():
        flag = f"--{f.name.replace('_', '-')}"
        if f.type is bool:
            flag = f"{flag}/--no-{f.name.replace('_', '-')}"
        default = "required" if f.required else f"{f.default}"
        rows.append(f"| `{flag}` | {_cell(f.type_name())} | {_cell(default)} | {_cell(f.help)} |")
    return rows


# -- hooks, modules, plugins ---------------------------------------------------------


def hooks_reference() -> str:
    from framework import hookspecs

    answers = "Hooks that answer (the first plugin's answer counts)"
    groups: dict[str, list[str]] = {"Registration hooks": [], "Lifecycle hooks": [], answers: []}
    for name, func in vars(hookspecs).items():
        spec = getattr(func, f"{hookspecs.PROJECT}_spec", None) if callable(func) else None
        if spec is None:
            continue
        group = "Registration hooks" if name.startswith("register_") else "Lifecycle hooks"
        group = answers if spec.get("firstresult") else group
        signature = str(inspect.signature(func)).replace("'", "")
        doc = inspect.getdoc(func) or ""
        groups[group] += [f"### `{name}{signature}`", "", doc, ""]
    lines = []
    for title, body in groups.items():
        lines += [f"## {title}", "", *body]
    return "\n".join(lines)


def _summary(path: Path) -> str:
    """The first paragraph of a module's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    if not doc.strip() and path.name == "__main__.py":
        return "`python -m` runs the command line."
    return " ".join(doc.strip().split("\n\n")[0].split())


PACKAGES = {  # folder holding the package -> what it is
    "core": "the core",
    "plugins/classifier/src": "the `classifier` plugin",
    "plugins/lm/src": "the `lm` plugin",
    "plugins/ptycho/src": "the `ptycho` plugin",
    "plugins/slurm/src": "the `slurm` executor (distribution `framework-slurm`)",
    "plugins/ray/src": "the `ray` executor (distribution `framework-ray`)",
    "examples/hello-plugin/src": "the example plugin",
}


def module_tree() -> str:
    lines = []
    for folder, title in PACKAGES.items():
        base = ROOT / folder
        packages = [p for p in sorted(base.iterdir()) if (p / "__init__.py").is_file()]
        for package in packages:
            lines += [f"### `{package.name}`: {title}", "", "| module | what it holds |"]
            lines.append("|---|---|")
            for path in sorted(package.rglob("*.py")):
                name = ".".join(path.relative_to(base).with_suffix("").parts)
                if name.endswith("__init__") and not path.read_text(encoding="utf-8").strip():
                    continue
                name = name.removesuffix(".__init__")
                lines.append(f"| `{name}` | {_cell(_summary(path))} |")
            lines.append("")
    return "\n".join(lines)


def plugin_hooks() -> str:
    from framework.plugins import Plugins

    plugins = Plugins()
    hooks = plugins.hook_names()
    lines = ["| plugin | status | module | hooks it implements |", "|---|---|---|---|"]
    for info in plugins.infos.values():
        names = ", ".join(f"`{h}`" for h in hooks.get(info.name, [])) or "-"
        lines.append(f"| `{info.name}` | {info.status} | `{info.module}` | {names} |")
    return "\n".join(lines)
