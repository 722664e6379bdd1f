"""Execution settings shared by every step: device, precision, seed, determinism, ranks.
Nothing imports torch or numpy at module level: a step without torch never pays for it."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

import attrs

from framework.config import field
from framework.errors import ConfigError


@attrs.define
class ExecutionSettings:
    """The execution section of the config (``--accelerator``, ``--seed``, ...)."""

    accelerator: Literal["auto", "cpu", "cuda", "mps"] = field(
        "auto", help="where tensors live: auto picks cuda, then mps, then cpu"
    )
    devices: int = field(1, min=1, help="number of devices a step may use")
    precision: Literal["32", "bf16", "16"] = field(
        "32", help="floating point precision for training: 32, bf16 or 16"
    )
    deterministic: bool = field(
        False, help="ask libraries for bitwise-reproducible kernels (slower on GPU)"
    )
    seed: int = field(0, min=0, help="seed for python, numpy and torch random generators")
    num_workers: int = field(0, min=0, help="data-loading worker processes")
    quiet: bool = field(False, help="no progress bars or per-step lines on the terminal")
    progress_interval_s: float = field(
        10.0,
        min=0.0,
        help="when stdout is not a terminal (CI, Slurm logs, a pipe): seconds between progress lines",
    )
    tracker: list[Literal["mlflow", "tensorboard", "none"]] = field(
        factory=list,
        help="experiment trackers that receive params, metrics and artifacts: mlflow, tensorboard "
        "or none (repeat the option or give a comma list)",
    )
    dist_timeout_s: int = field(
        600,
        min=1,
        help="several processes (torchrun): seconds a rank waits for the others before the run fails",
    )

    def fingerprint_values(self, rank: RankInfo) -> dict[str, Any]:
        """How a step ran, as far as it can change the numbers (the world size does: the
        global batch grows with it); the others change speed or the terminal only."""
        return {
            "seed": self.seed,
            "precision": self.precision,
            "deterministic": self.deterministic,
            "accelerator": accelerator_kind(self.accelerator),
            "world_size": rank.world_size,
            "nodes": max(rank.world_size // max(rank.local_world_size, 1), 1),
        }


@attrs.frozen
class RankInfo:
    """This process's place in a torch.distributed job (world size 1 when not launched)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, environ: Any = None) -> RankInfo:
        env = os.environ if environ is None else environ
        return cls(
            rank=int(env.get("RANK", 0)),
            local_rank=int(env.get("LOCAL_RANK", 0)),
            world_size=int(env.get("WORLD_SIZE", 1)),
            local_world_size=int(env.get("LOCAL_WORLD_SIZE", env.get("WORLD_SIZE", 1))),
        )


def accelerator_kind(wanted: str) -> str:
    """The kind of device `--accelerator` means here (cpu, cuda, mps), "auto" resolved as
    torch would; without importing torch, so every step's fingerprint can carry it."""
    if wanted != "auto":
        return wanted
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    hidden = visible is not None and visible.strip() in ("", "-1")
    device = os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")
    if device and not hidden and _torch_has_cuda_build():
        return "cuda"
    if sys.platform == "darwin" and os.uname().machine == "arm64":
        return "mps"
    return "cpu"


def _torch_has_cuda_build() -> bool:
    """Whether the installed torch was built with CUDA (read from its version file)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    version = os.path.join(next(iter(spec.submodule_search_locations)), "version.py")
    try:
        text = Path(version).read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^cuda\b[^=\n]*=\s*None\s*$", text, re.MULTILINE) is None


def resolve_device(settings: ExecutionSettings, rank: RankInfo | None = None) -> str:
    """The torch device string for `settings` (imports torch; call from inside steps)."""
    import torch

    rank = rank or RankInfo.from_env()
    has = {
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    wanted: str = settings.accelerator
    if wanted == "auto":
        wanted = next((kind for kind, there in has.items() if there), "cpu")
    if wanted != "cpu" and not has[wanted]:
        raise ConfigError(
            f"--accelerator {wanted} was asked for, but torch sees no {wanted.upper()} device",
            hint="use --accelerator cpu or auto",
        )
    if wanted == "cuda":
        return f"cuda:{rank.local_rank % max(torch.cuda.device_count(), 1)}"
    return wanted


def autocast_dtype(settings: ExecutionSettings) -> Any:
    """The torch dtype for autocast, or None for full precision."""
    import torch

    return {"32": None, "bf16": torch.bfloat16, "16": torch.float16}[settings.precision]


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed python and every numeric library already imported."""
    import random

    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    if torch := sys.modules.get("torch"):
        torch.manual_seed(seed)
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        else:
            torch.use_deterministic_algorithms(False)
