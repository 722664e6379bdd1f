"""Entry points read from the ``*.dist-info`` folders on sys.path, and the import of the
``module:attr`` paths that entry points and Step specs name.

``importlib.metadata`` costs about as much to import as click and pluggy together; it is
used only where the scan could miss a distribution (a zip file on sys.path, an import hook
with distributions of its own). What the scan finds is cached (docs/writing-plugins.md),
keyed on the sys.path folders' modification times.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

_INFO_SUFFIXES = (".dist-info", ".egg-info")
_METADATA_FILES = {".dist-info": "METADATA", ".egg-info": "PKG-INFO"}


class EntryPoint(NamedTuple):
    """One ``name = module:attr`` line of an entry_points.txt (not attrs: start-up time)."""

    name: str
    value: str
    distribution: str | None
    version: str | None

    def load(self) -> Any:
        return import_object(self.value.split("[", 1)[0].replace(" ", ""))  # drop "[extras]"


def import_object(path: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the object."""
    module_name, _, attr_path = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split(".") if attr_path else []:
        obj = getattr(obj, part)
    return obj


# Not cached while a folder changed this recently: a change in the same mtime tick goes unseen.
_RACY_S = 2.0


def entry_points(group: str) -> list[EntryPoint]:
    """The group's entry points, one distribution per name (the first on sys.path wins)."""
    if _needs_importlib_metadata():
        return _from_importlib_metadata(group)
    cache, key = _cache_file(group), _path_key()
    found = _read_cache(cache, key) if cache and key else None
    if found is None:
        found = _scan(group)
        if cache and key and all(time.time() - m > _RACY_S for _, m in key):
            _write_cache(cache, key, found)
    return found


def _path_key() -> list[tuple[str, float]] | None:
    """(directory, modification time) of each sys.path entry; None if one cannot be read."""
    key = []
    for entry in sys.path:
        try:
            key.append((entry, os.stat(entry or ".").st_mtime))
        except OSError:
            if os.path.lexists(entry or "."):
                return None
            key.append((entry, 0.0))  # absent: appearing changes the key
    return key


def _cache_file(group: str) -> str | None:
    folder = os.environ.get("FRAMEWORK_CACHE_DIR")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "framework")
    if not folder:
        return None
    # One file per environment, Python and group, named after them (no hashing module to
    # import on every command); the key inside still checks every sys.path folder.
    where = f"{sys.prefix}-py{sys.version_info[0]}.{sys.version_info[1]}-{group}"
    return os.path.join(folder, "entry-points-" + re.sub(r"[^\w.]+", "-", where)[-160:] + ".txt")


def _read_cache(path: str, key: list[tuple[str, float]]) -> list[EntryPoint] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.readline() != f"{key!r}\n":
                return None
            rows = [line.rstrip("\n").split("\t") for line in fh]
    except (OSError, UnicodeDecodeError):
        return None
    if not all(len(r) == 4 for r in rows):
        return None
    return [EntryPoint(n, v, d or None, ver or None) for n, v, d, ver in rows]


def _write_cache(path: str, key: list[tuple[str, float]], found: list[EntryPoint]) -> None:
    rows = [tuple(field or "" for field in e) for e in found]
    if any("\t" in f or "\n" in f for row in rows for f in row):
        return
    text = f"{key!r}\n" + "".join("\t".join(row) + "\n" for row in rows)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # whole or not at all, with parallel writers
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def _scan(group: str) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for info_dir in _info_dirs():
        # Named "<name>-<version>.dist-info": the first of a name wins, as in importlib.metadata.
        stem = os.path.basename(info_dir).rsplit(".", 1)[0].split("-", 1)[0]
        key = re.sub(r"[-_.]+", "-", stem).lower()
        if key in seen:
            continue
        seen.add(key)
        entries = _parse(os.path.join(info_dir, "entry_points.txt"), group)
        if entries:
            dist, version = _name_and_version(info_dir)
            found.extend(EntryPoint(n, v, dist, version) for n, v in entries)
    return found


def _needs_importlib_metadata() -> bool:
    """True when distributions may live somewhere other than plain directories on sys.path."""
    if any(entry and os.path.isfile(entry) for entry in sys.path):
        return True
    from importlib.machinery import PathFinder

    return any(f is not PathFinder and hasattr(f, "find_distributions") for f in sys.meta_path)


def _info_dirs() -> Iterator[str]:
    """Each *.dist-info and *.egg-info folder on sys.path, in sys.path order."""
    for entry in sys.path:
        found: list[str] = []  # a folder that cannot be read has none
        with contextlib.suppress(OSError), os.scandir(entry or ".") as it:
            found = [e.path for e in it if e.name.lower().endswith(_INFO_SUFFIXES) and e.is_dir()]
        yield from sorted(found)


def _name_and_version(info_dir: str) -> tuple[str | None, str | None]:
    """Name and Version from the metadata headers (read up to the first blank line)."""
    suffix = os.path.splitext(info_dir)[1].lower()
    fields: dict[str, str] = {}
    path = os.path.join(info_dir, _METADATA_FILES[suffix])
    with contextlib.suppress(OSError, UnicodeDecodeError), open(path, encoding="utf-8") as fh:
        for line in itertools.takewhile(str.strip, fh):  # the headers end at a blank line
            key, sep, value = line.partition(":")
            if sep and key in ("Name", "Version"):
                fields.setdefault(key, value.strip())
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
    found, section = [], None
    for line in map(str.strip, lines):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            found.append((name.strip(), value.strip()))
    return found


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=group):
        dist = ep.dist
        name, version = (dist.metadata["Name"], dist.version) if dist else (None, None)
        found.append(EntryPoint(ep.name, ep.value, name, version))
    return found
