"""File hashing with a stat-keyed cache, so a no-op re-run does not re-read gigabytes;
every digest is ``"<algorithm>:<hex>"``, so the algorithm travels with it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

ALGORITHM = "sha256"
CHUNK = 1 << 20


def hash_bytes(data: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


def hash_file(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return f"{ALGORITHM}:{digest.hexdigest()}"


class HashCache:
    """Digests keyed by (path, inode, mtime, size); persisted as one JSON file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._entries: dict[str, list] = {}
        self._dirty = False
        # A missing or damaged cache is only a slower run.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data = json.loads(self.path.read_text())
            if data.get("algorithm") == ALGORITHM:
                self._entries = data.get("entries", {})

    def digest(self, path: str | os.PathLike[str]) -> str:
        real = os.path.realpath(path)
        st = os.stat(real)
        key = [st.st_ino, st.st_mtime_ns, st.st_size]
        hit = self._entries.get(real)
        if hit and hit[:3] == key:
            return hit[3]
        value = hash_file(real)
        self._entries[real] = [*key, value]
        self._dirty = True
        return value

    def save(self) -> None:
        if not self._dirty:
            return
        from framework.atomic import atomic_write_text

        live = {p: e for p, e in self._entries.items() if os.path.exists(p)}
        text = json.dumps({"algorithm": ALGORITHM, "entries": live}, separators=(",", ":"))
        self._dirty = False
        with contextlib.suppress(OSError):  # a cache not saved is only a slower next run
            atomic_write_text(self.path, text)
