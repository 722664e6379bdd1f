"""A content-addressed store of step outputs, keyed by step fingerprint: a later run whose
step has the same fingerprint gets the files instead of recomputing them.

No run can change another's files through the store: objects are read-only, only ever
created by rename or dropped, and move in and out as a clone or private copy, or (above
``SHARE_ABOVE`` bytes, never for root) a read-only hard link. docs/concepts.md says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any

from framework.atomic import atomic_path, atomic_write_text
from framework.hashing import HashCache, hash_file

# Files up to this size are copied, larger ones linked read-only (when no clone is possible).
SHARE_ABOVE = 16 << 20
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_FICLONE = 0x40049409  # linux/fs.h: share the source's extents, copy-on-write


def links_protect() -> bool:
    """Whether permission bits stop this process from writing a read-only file."""
    return not hasattr(os, "geteuid") or os.geteuid() != 0


def _shares(size: int) -> bool:
    return size > SHARE_ABOVE and links_protect()


def _private_copy(src: Path, dst: Path) -> None:
    """A clone or a copy of `src` at `dst`, written atomically; `dst` has its own inode."""
    with atomic_path(dst) as tmp:
        try:
            import fcntl

            with open(src, "rb") as s, open(tmp, "wb") as d:
                fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
        except (ImportError, OSError):
            shutil.copyfile(src, tmp)


def _hard_link(src: Path, dst: Path) -> None:
    """Replace `dst` by a hard link to `src` in one rename."""
    tmp = dst.with_name(f".{dst.name}.link-{os.getpid()}-{secrets.token_hex(4)}")
    os.link(src, tmp)
    try:
        os.replace(tmp, dst)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def make_read_only(path: Path) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) & READ_ONLY or stat.S_IRUSR)


class ArtifactStore:
    def __init__(self, root: str | os.PathLike[str], hashes: HashCache) -> None:
        self.root = Path(root)
        self.hashes = hashes

    def object_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / "objects" / algorithm / hexdigest[:2] / hexdigest[2:]

    def _record(self, fingerprint: str) -> Path:
        algorithm, _, hexdigest = fingerprint.partition(":")
        return self.root / "steps" / algorithm / f"{hexdigest}.json"

    def intact(self, digest: str) -> bool:
        """Whether the object for `digest` exists and its content still has that digest;
        a damaged object is dropped, so nothing links it again."""
        obj = self.object_path(digest)
        try:
            if self.hashes.digest(obj) == digest:
                if stat.S_IMODE(obj.stat().st_mode) & ~READ_ONLY:
                    make_read_only(obj)  # someone gave it write bits back
                return True
        except OSError:
            return False
        with contextlib.suppress(OSError):
            obj.unlink()
        return False

    def save(
        self, fingerprint: str, run_dir: Path, outputs: dict[str, str], extra: dict[str, Any]
    ) -> None:
        """Remember `outputs` (relative path -> digest) of a completed step, and `extra`
        parts of its record (metrics, splits) that a reuse should carry over."""
        for rel, digest in outputs.items():
            if not self.intact(digest) and not self._add(run_dir / rel, digest):
                return  # the file changed since it was hashed: record nothing
        atomic_write_text(
            self._record(fingerprint),
            json.dumps({"outputs": outputs, "extra": extra}, sort_keys=True),
        )

    def _add(self, src: Path, digest: str) -> bool:
        """Put `src` into the store as the object `digest`; False if its content differs."""
        obj = self.object_path(digest)
        obj.parent.mkdir(parents=True, exist_ok=True)
        if _shares(src.stat().st_size):
            make_read_only(src)  # the run's own file becomes the read-only object
            if self.hashes.digest(src) != digest:
                return False
            _hard_link(src, obj)
            return True
        _private_copy(src, obj)
        if hash_file(obj) != digest:
            obj.unlink()
            return False
        make_read_only(obj)
        return True

    def fetch(
        self, fingerprint: str, run_dir: Path
    ) -> tuple[dict[str, str], dict[str, Any]] | None:
        """Put the outputs stored for `fingerprint` into `run_dir`: (outputs, extra); None
        when there are none or what arrived is not what was stored, and the step runs."""
        record = self._record(fingerprint)
        try:
            data = json.loads(record.read_text())
            outputs, extra = dict(data["outputs"]), dict(data.get("extra", {}))
            if not all(self.intact(digest) for digest in outputs.values()):
                record.unlink()  # an object is gone or damaged: forget the record too
                return None
            for rel, digest in outputs.items():
                obj, dst = self.object_path(digest), run_dir / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if _shares(obj.stat().st_size):
                    _hard_link(obj, dst)
                else:
                    _private_copy(obj, dst)
                if self.hashes.digest(dst) != digest:
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return outputs, extra
