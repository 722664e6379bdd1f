"""Entry-point discovery that reads ``*.dist-info`` directories on sys.path directly,
and the import of ``module:attr`` paths that entry points and Step specs name.

``importlib.metadata`` costs about as much to import as click and pluggy together
(it pulls in email, zipfile, csv), and `framework list-steps` only needs the
entry_points.txt, name and version of each distribution. Where that shortcut could
miss a distribution (a zip file on sys.path, an import hook that supplies its own
distributions) discovery falls back to ``importlib.metadata``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

_INFO_SUFFIXES = (".dist-info", ".egg-info")
_METADATA_FILES = {".dist-info": "METADATA", ".egg-info": "PKG-INFO"}


class EntryPoint:
    """One ``name = module:attr`` line of a distribution's entry_points.txt.

    A plain class, not attrs: creating an attrs class costs a millisecond at start-up.
    """

    __slots__ = ("distribution", "group", "name", "value", "version")

    def __init__(
        self,
        name: str,
        value: str,
        group: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.distribution = distribution
        self.version = version

    def __repr__(self) -> str:
        return f"EntryPoint({self.name!r}, {self.value!r}, group={self.group!r}, distribution={self.distribution!r})"

    def load(self) -> Any:
        return import_object(self.value.split("[", 1)[0].replace(" ", ""))  # drop "[extras]"


def import_object(path: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the object."""
    module_name, _, attr_path = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split(".") if attr_path else []:
        obj = getattr(obj, part)
    return obj


def entry_points(group: str) -> list[EntryPoint]:
    """The group's entry points, one distribution per name (the first on sys.path wins)."""
    if _needs_importlib_metadata():
        return _from_importlib_metadata(group)
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for info_dir in _info_dirs():
        # The directory is named "<name>-<version>.dist-info"; importlib.metadata dedups on it too.
        key = _normalise(os.path.basename(info_dir).rsplit(".", 1)[0].split("-", 1)[0])
        if key in seen:
            continue
        seen.add(key)
        entries = _parse(os.path.join(info_dir, "entry_points.txt"), group)
        if entries:
            name, version = _name_and_version(info_dir)
            found.extend(EntryPoint(n, v, group, name, version) for n, v in entries)
    return found


def _needs_importlib_metadata() -> bool:
    """True when distributions may live somewhere other than plain directories on sys.path."""
    if any(entry and os.path.isfile(entry) for entry in sys.path):
        return True
    from importlib.machinery import PathFinder

    return any(f is not PathFinder and hasattr(f, "find_distributions") for f in sys.meta_path)


def _info_dirs() -> Iterator[str]:
    for entry in sys.path:
        directory = entry or "."
        try:
            with os.scandir(directory) as it:
                found = [
                    e.path for e in it if e.name.lower().endswith(_INFO_SUFFIXES) and e.is_dir()
                ]
        except OSError:
            continue
        yield from sorted(found)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name_and_version(info_dir: str) -> tuple[str | None, str | None]:
    """Name and Version from the metadata headers (read up to the first blank line)."""
    suffix = os.path.splitext(info_dir)[1].lower()
    fields: dict[str, str] = {}
    try:
        with open(os.path.join(info_dir, _METADATA_FILES[suffix]), encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if sep and key in ("Name", "Version"):
                    fields.setdefault(key, value.strip())
    except (OSError, UnicodeDecodeError):
        pass
    return fields.get("Name"), fields.get("Version")


def _parse(path: str, group: str) -> list[tuple[str, str]]:
    """(name, value) of each entry point of `group` in an entry_points.txt."""
    try:
        with open(path, "rb") as fh:  # bytes: most files are only searched, never decoded
            data = fh.read()
        if group.encode() not in data:  # most distributions: skip the line-by-line parse
            return []
        lines = data.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    section = None
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.strip()))
    return found


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.append(
            EntryPoint(
                ep.name,
                ep.value,
                group,
                dist.metadata["Name"] if dist else None,
                dist.version if dist else None,
            )
        )
    return found
