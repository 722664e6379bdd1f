"""A content-addressed store of step outputs, keyed by step fingerprint.

When a step completes, its outputs are linked into ``<artifact-root>/.store`` by
content hash, with a record per fingerprint. A later run whose step has the same
fingerprint links those files into its own run dir instead of recomputing them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from framework.atomic import atomic_path, atomic_write_text
from framework.hashing import HashCache


def _link_or_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)


class ArtifactStore:
    def __init__(self, root: str | os.PathLike[str], hashes: HashCache) -> None:
        self.root = Path(root)
        self.hashes = hashes

    def _object(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / "objects" / algorithm / hexdigest[:2] / hexdigest[2:]

    def _record(self, fingerprint: str) -> Path:
        algorithm, _, hexdigest = fingerprint.partition(":")
        return self.root / "steps" / algorithm / f"{hexdigest}.json"

    def save(
        self,
        fingerprint: str,
        run_dir: Path,
        outputs: dict[str, str],
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Remember `outputs` (relative path -> digest) of a completed step, and `extra`
        parts of its record (metrics, splits) that a reuse should carry over."""
        for rel, digest in outputs.items():
            obj = self._object(digest)
            if not obj.exists():
                _link_or_copy(run_dir / rel, obj)
        self._record(fingerprint).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self._record(fingerprint),
            json.dumps({"outputs": outputs, "extra": extra or {}}, sort_keys=True),
        )

    def lookup(self, fingerprint: str) -> tuple[dict[str, str], dict[str, Any]] | None:
        """(outputs, extra) recorded for `fingerprint`, if every object is still intact."""
        record = self._record(fingerprint)
        try:
            data = json.loads(record.read_text())
            outputs, extra = dict(data["outputs"]), dict(data.get("extra", {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for digest in outputs.values():
            obj = self._object(digest)
            try:
                if self.hashes.digest(obj) != digest:
                    raise OSError("changed")
            except OSError:
                with contextlib.suppress(OSError):
                    record.unlink()
                return None
        return outputs, extra

    def restore(self, outputs: dict[str, str], run_dir: Path) -> None:
        for rel, digest in outputs.items():
            _link_or_copy(self._object(digest), run_dir / rel)
