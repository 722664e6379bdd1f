"""Train the amplitude denoiser that ships beside the pretrained bundle (``--denoise``).

1. Training pairs: ``--scans`` corpus scans of the pretrained network's training families
   (``blobs`` held out, as from the network), doses 1e3-1e5, seeds of their own. Each is
   reconstructed as ``ptycho.reconstruct --refine-engine builtin-lsqml --refine-iterations
   40`` does (the shipped network, then 40 passes from its amplitude) and paired with its
   true object over the scanned region.
2. The network of ``framework_ptycho.denoise`` (7 conv layers, 32 channels; input: the
   refined amplitude over its mean, phase less its mean and the scan's dose) is trained
   ``--steps`` Adam steps on random 40 x 40 crops, L1 against the truth; a tenth of the
   pairs is held back and its L1 error reported before and after.

The shipped denoiser (about 15 minutes on 2 CPU threads; deterministic):

    python plugins/ptycho/scripts/train_denoiser.py --scans 160 --steps 6000 --seed 0

``bench/ptycho_denoise_probe.py`` trains the same network the same way and scores it on
the held-out bench's scans and another simulator's.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from train_pretrained import OUT, TRAIN_KINDS, corpus

PAIR_SEED = 4000  # neither the pretrained network's seeds (2, 1002, 2002-) nor a bench's
CROP, BATCH = 40, 32


def pairs(count: int, object_size: int, network: tuple) -> list[tuple]:
    """(refined channels, true channels, dose level) for `count` corpus scans."""
    from framework_ptycho.denoise import channels, dose_level
    from framework_ptycho.metrics import scanned_box
    from framework_ptycho.pretrained import refined

    bundle, model = network
    out = []
    for scan in corpus(TRAIN_KINDS, count, (PAIR_SEED,), object_size):
        d = scan.data
        box = scanned_box(d.xcoords, d.ycoords, d.n, object_size)
        obj = refined(model, bundle.gridsize, d, object_size)
        out.append((channels(obj[box]), channels(d.obj[box]), dose_level(d.diffraction)))
    return out


def train(data: list, steps: int, seed: int) -> tuple:
    """The denoiser after `steps` Adam steps; the held-back tenth's L1 error of the refined
    images themselves ("identity") and of the denoiser before and after training."""
    from framework_ptycho.denoise import apply, build, with_dose

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    held = max(1, len(data) // 10)
    fit, check = data[:-held] or data, data[-held:]
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def error() -> float:
        return float(np.mean([np.abs(apply(model, x, v) - y).mean() for x, y, v in check]))

    before = error()
    for _ in range(steps):
        model.train()
        xs, ys = [], []
        for _ in range(BATCH):
            x, y, level = fit[rng.integers(len(fit))]
            r, c = rng.integers(x.shape[1] - CROP + 1), rng.integers(x.shape[2] - CROP + 1)
            xs.append(with_dose(x[:, r : r + CROP, c : c + CROP], level))
            ys.append(y[:, r : r + CROP, c : c + CROP])
        x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        loss = (x[:, :2] + model(x) - y).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    identity = float(np.mean([np.abs(x - y).mean() for x, y, _ in check]))
    model.eval()
    return model, {"identity": identity, "untrained": before, "trained": error()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=160, help="training pairs (scans)")
    p.add_argument("--steps", type=int, default=6000, help="Adam steps of 32 crops")
    p.add_argument("--object-size", type=int, default=160, help="training objects' size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT, help="folder for the weights and record")
    args = p.parse_args()
    from framework_ptycho import denoise
    from framework_ptycho.pretrained import load_network

    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    data = pairs(args.scans, args.object_size, load_network("pretrained", "cpu"))
    model, losses = train(data, args.steps, args.seed)
    record = {
        "command": " ".join(["python", "plugins/ptycho/scripts/train_denoiser.py", *sys.argv[1:]]),
        "after": "the pretrained bundle, then builtin-lsqml 40 passes from its amplitude",
        "train_kinds": list(TRAIN_KINDS),
        "pair_seed": PAIR_SEED,
        "scans": args.scans,
        "steps": args.steps,
        "seed": args.seed,
        "held_back_l1": losses,
        "minutes": round((time.perf_counter() - began) / 60, 1),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    denoise.save(model, record, args.out)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
