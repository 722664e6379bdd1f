"""Data-split contracts: a step reads only the splits it declared; splits are disjoint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from framework.config import canonical_json
from framework.errors import SplitContractError
from framework.hashing import hash_bytes


def membership_hash(ids: Iterable[Any]) -> str:
    """Order-independent hash of a split's sample ids."""
    return hash_bytes(canonical_json(sorted(str(i) for i in ids)).encode())


@attrs.define
class SplitGuard:
    """What `ctx.splits` offers a step: declare membership, then read what you declared."""

    step_id: str
    allowed: tuple[str, ...]
    _record: dict[str, Any]  # this step's "splits" in its manifest record, filled in place
    # split name -> (hash, step id) as the steps this one depends on recorded them: a
    # step must see the samples its upstream saw, or evaluation could leak training data.
    _upstream: Mapping[str, tuple[str, str]]

    def record(self, splits: Mapping[str, Iterable[Any]]) -> dict[str, str]:
        """Check the splits are disjoint by sample id and hash them into the manifest."""
        members = {name: [str(i) for i in ids] for name, ids in splits.items()}
        owner: dict[str, str] = {}
        for name, ids in members.items():
            if len(set(ids)) != len(ids):
                raise SplitContractError(
                    f"split {name} lists a sample id twice (step {self.step_id})"
                )
            for sample in ids:
                other = owner.setdefault(sample, name)
                if other != name:
                    raise SplitContractError(
                        f"splits {other} and {name} overlap: sample '{sample}' is in both (step {self.step_id})",
                        hint="splits must be disjoint by sample id",
                    )
        hashes = {name: membership_hash(ids) for name, ids in members.items()}
        for name, digest in hashes.items():
            seen_upstream = self._upstream.get(name)
            if seen_upstream and seen_upstream[0] != digest:
                raise SplitContractError(
                    f"split {name} of step {self.step_id} holds other samples than the {name} "
                    f"that upstream step {seen_upstream[1]} used",
                    hint="give both steps the same data settings and seed",
                )
            self._record[name] = {"count": len(members[name]), "hash": digest}
        return hashes

    def check(self, name: str) -> None:
        """Raise unless this step declared it may read split `name`."""
        if name not in self.allowed:
            declared = ", ".join(self.allowed) or "none"
            raise SplitContractError(
                f"step {self.step_id} read split {name}, which it did not declare (declared: {declared})",
                hint=f"add {name!r} to the step's splits only if it is meant to read it",
            )

    def read(self, name: str, loader: Any, *args: Any, **kwargs: Any) -> Any:
        """``loader(*args, **kwargs)`` after checking that `name` may be read."""
        self.check(name)
        return loader(*args, **kwargs)
