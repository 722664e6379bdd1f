"""Every value of a plan's configs from its layers, lowest first: class defaults <
``--config FILE`` < ``FRAMEWORK_*`` environment < command line (flags, then ``--set``)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import attrs

from framework.config.fields import FieldInfo, build_instance, config_fields, plain_value
from framework.config.schema import error_message, first_error
from framework.config.text import parse_text
from framework.errors import ConfigError
from framework.steps import did_you_mean

SWEEP_SECTION = "sweep"  # a config file's options for `framework sweep`


@attrs.define
class Section:
    """The resolved values of one config class (a step, or the execution settings), and
    where each came from: "default", "file F ($.path)", "env VAR" or "cli --flag"."""

    key: str  # step id or "execution"
    cls: type
    values: dict[str, Any] = attrs.Factory(dict)
    sources: dict[str, str] = attrs.Factory(dict)

    def set(self, name: str, value: Any, source: str) -> None:
        self.values[name] = value
        self.sources[name] = source

    def fields(self) -> tuple[FieldInfo, ...]:
        return config_fields(self.cls)

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields()]


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON config file safely; errors name the file and position."""
    p = pathlib.Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    if p.suffix.lower() == ".json":
        import json  # as yaml below: only a config file needs it

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{p}: {where}{problem}", hint="fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p}: the top level must be a mapping of sections, not {type(data).__name__}"
        )
    return data


def env_name(field_name: str) -> str:
    return "FRAMEWORK_" + field_name.upper()


class ConfigResolver:
    """Merges the layers for every section of a plan (the `apply_*` methods, called lowest
    first) and validates the result."""

    def __init__(self, sections: list[Section], short_names: Mapping[str, str]) -> None:
        self.sections = {s.key: s for s in sections}
        self.short_names = dict(short_names)  # short name -> step id (unambiguous ones)
        for s in sections:
            for f in s.fields():
                if not f.required:
                    s.set(f.name, plain_value(f.default), "default")

    def _with_field(self, name: str) -> list[Section]:
        return [s for s in self.sections.values() if name in s.field_names()]

    def _section(self, key: str) -> Section | None:
        return self.sections.get(key) or self.sections.get(self.short_names.get(key, ""))

    def all_field_names(self) -> set[str]:
        return {n for s in self.sections.values() for n in s.field_names()}

    def apply_file(
        self, data: Mapping[str, Any], origin: str, known_steps: Iterable[str] = ()
    ) -> None:
        known = {name for step_id in known_steps for name in (step_id, step_id.split(".", 1)[-1])}
        for key, value in data.items():
            if key == SWEEP_SECTION and key not in self.sections:
                continue  # read by `framework sweep`, not by the runs
            section = self._section(str(key))
            if section is not None:
                self._apply_file_section(section, key, value, origin)
                continue
            if key in known:
                continue  # a section for a step outside this plan
            targets = self._with_field(str(key))
            if not targets:
                candidates = [*self.all_field_names(), *self.sections, *self.short_names]
                raise ConfigError(
                    f"{origin}: $.{key}: unknown key{did_you_mean(str(key), candidates)}",
                    hint="top-level keys are step ids, 'execution', or field names shared by steps",
                )
            for section in targets:
                section.set(str(key), value, f"file {origin} ($.{key})")

    def _apply_file_section(self, section: Section, key: str, value: Any, origin: str) -> None:
        if not isinstance(value, dict):
            raise ConfigError(
                f"{origin}: $.{key}: expected a mapping of fields, got {type(value).__name__}"
            )
        for name, item in value.items():
            if name not in section.field_names():
                raise ConfigError(
                    f"{origin}: $.{key}.{name}: unknown key for {section.key}"
                    f"{did_you_mean(str(name), section.field_names())}",
                    hint="run 'framework describe " + section.key + "' for its fields",
                )
            section.set(name, item, f"file {origin} ($.{key}.{name})")

    def apply_env(self, environ: Mapping[str, str], reserved: Collection[str] = ()) -> None:
        for name in sorted(self.all_field_names()):
            var = env_name(name)
            if var in reserved or var not in environ:
                continue
            for section in self._with_field(name):
                self._set_text(section, name, environ[var], "env", var)

    def apply_flag(self, name: str, value: Any, flag: str) -> None:
        for section in self._with_field(name):
            self._set_text(section, name, value, "cli", flag)

    def apply_set(self, assignment: str) -> None:
        """``step.field=value`` (step by id or short name) for one step only."""
        target, eq, text = assignment.partition("=")
        if not eq or "." not in target:
            raise ConfigError(f"--set {assignment!r}: expected STEP.FIELD=VALUE")
        step_key, _, name = target.rpartition(".")
        section = self._section(step_key)
        if section is None:
            raise ConfigError(
                f"--set {assignment!r}: no step '{step_key}' in this plan"
                f"{did_you_mean(step_key, list(self.sections) + list(self.short_names))}"
            )
        if name not in section.field_names():
            raise ConfigError(
                f"--set {assignment!r}: {section.key} has no field '{name}'"
                f"{did_you_mean(name, section.field_names())}"
            )
        self._set_text(section, name, text, "cli", f"--set {target}")

    def _set_text(self, section: Section, name: str, value: Any, kind: str, where: str) -> None:
        """Set a value, parsed first when it is text (a flag's value may come typed)."""
        if isinstance(value, str):
            tp = next(f.type for f in section.fields() if f.name == name)
            try:
                value = parse_text(value, tp)
            except ValueError as exc:
                raise ConfigError(f"invalid value for {where}: {exc}") from None
        section.set(name, value, f"{kind} {where}")

    def validate(self) -> None:
        """Check every section against its schema; the first error names path and source."""
        for section in self.sections.values():
            err = first_error(section.cls, section.values)
            if err is None:
                continue
            path = list(err.absolute_path)
            if not path and err.validator == "required":
                missing = err.message.split("'")[1]  # "'name' is a required property"
                raise ConfigError(
                    f"$.{section.key}.{missing}: required value is missing",
                    hint=f"pass --{missing.replace('_', '-')} or set it in the config file",
                )
            steps = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            source = section.sources.get(str(path[0]) if path else "", "default")
            where = f" (from {source})" if source != "default" else ""
            raise ConfigError(
                f"invalid config: $.{section.key}{steps}: {error_message(err)}{where}"
            )

    def build(self, key: str) -> Any:
        return build_instance(self.sections[key].cls, self.sections[key].values)

    def resolved(self) -> dict[str, dict[str, Any]]:
        return {k: dict(s.values) for k, s in self.sections.items()}

    def provenance(self) -> dict[str, dict[str, str]]:
        return {k: dict(s.sources) for k, s in self.sections.items()}
