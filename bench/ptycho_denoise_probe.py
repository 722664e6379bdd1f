"""Probe: what a learned prior against counting noise buys after network + refinement.

The bench of `ptycho.reconstruct --denoise`: it trains the denoiser as the shipped one
was trained and measures what it does on objects and simulators it never trained on (at
1e4 photons no engine reaches the issue's quality; a prior learned from data is the lever
named in docs/plugins/ptycho.md).

1. Training: the shipped denoiser's recipe, `plugins/ptycho/scripts/train_denoiser.py`
   (its `pairs` and `train`): `--scans` corpus scans of the pretrained network's training
   families, each reconstructed as `ptycho.reconstruct --refine-engine builtin-lsqml
   --refine-iterations 40` does, against the true object; `--steps` Adam steps of framework_ptycho.denoise's
   network, which sees the refined image and the scan's dose, nothing of the truth.
   With the defaults it trains the shipped weights exactly (the probe prints whether
   its sha256 matches the shipped one).
2. Scored, on scans never trained on: every family of the held-out bench (blobs held out
   of both networks' training) at three doses, and the independent simulator's grains and
   star at 1e4 (bench/foreign_scan.py). Rows: the refined image, with its amplitude
   denoised (phase kept: `--denoise amplitude`), with both (`--denoise object`). SSIM and
   correlation: a prior that only smooths raises the first and lowers the second.

`--splits validation` (the default) scores the validation scans, `test` the reported ones
(`validation,test`: both, with the one denoiser).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import command_line, parser, report
from framework_ptycho.pretrained import load_network
from ptycho_heldout import FAMILIES, SETTINGS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "ptycho" / "scripts"))
from train_denoiser import pairs, train

SPLITS = {"validation": (9000, 5000), "test": (7000, 9000)}  # held-out bench, foreign bench
SIZE = 160  # the held-out bench's objects: its scans exactly, so "refined" is its 40-pass row
METRICS = ("amp_ssim", "phase_ssim", "amp_pearson", "phase_pearson")
PARTS = ("amplitude", "object")  # the choices of `--denoise`


def same_as_shipped(model) -> bool:
    """Are `model`'s weights, byte for byte, the shipped denoiser's?"""
    import hashlib

    from framework_ptycho import denoise

    record = denoise.folder() / denoise.RECORD
    shipped = json.loads(record.read_text())["sha256"] if record.is_file() else None
    return hashlib.sha256(denoise.weights_bytes(model)).hexdigest() == shipped


def scored(truth, obj, box) -> list[float]:
    from framework_ptycho.metrics import score

    s = score(truth, obj, box)
    return [s[p][m] for m in ("ssim", "pearson") for p in ("amplitude", "phase")]


def case(name: str, data, size: int, network, model) -> dict:
    from framework_ptycho.denoise import denoise, dose_level
    from framework_ptycho.metrics import scanned_box
    from framework_ptycho.pretrained import refined

    box = scanned_box(data.xcoords, data.ycoords, data.n, size)
    obj = refined(network, 2, data, size)
    level = dose_level(data.diffraction)
    rows = {"refined": dict(zip(METRICS, scored(data.obj, obj, box), strict=True))}
    for part in PARTS:
        image = denoise(model, obj, box, level, part)
        rows[f"+ denoised {part}"] = dict(zip(METRICS, scored(data.obj, image, box), strict=True))
    for label, r in rows.items():
        print(f"{name:29s} {label:22s} " + " ".join(f"{v:.3f}" for v in r.values()), flush=True)
    return rows


def summary(split: str, results: dict) -> list[str]:
    """Per row kind: mean SSIMs and correlations, and in how many figures it beat refined."""
    base = np.array([list(rows["refined"].values()) for rows in results.values()])
    lines = []
    for label in ("refined", *(f"+ denoised {part}" for part in PARTS)):
        values = np.array([list(rows[label].values()) for rows in results.values()])
        lines.append(
            f"{split}, {label}: mean amp/phase SSIM {values[:, 0].mean():.3f} /"
            f" {values[:, 1].mean():.3f}, correlation {values[:, 2].mean():.3f} /"
            f" {values[:, 3].mean():.3f}; SSIM above refined in"
            f" {int((values[:, :2] > base[:, :2]).sum())} of {base[:, :2].size},"
            f" correlation in {int((values[:, 2:] > base[:, 2:]).sum())}"
        )
        print(lines[-1])
    return lines


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=160, help="training pairs (scans)")
    p.add_argument("--steps", type=int, default=6000, help="Adam steps of 32 crops")
    p.add_argument("--object-size", type=int, default=160, help="training objects' size")
    p.add_argument("--splits", default="validation", help="validation, test or both (a,b)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a few pairs and steps, two scans")
    args = p.parse_args()
    splits = [s for s in args.splits.split(",") if s]
    if not splits or any(s not in SPLITS for s in splits):
        p.error(f"--splits {args.splits!r}: give validation, test or validation,test")
    import torch

    torch.set_num_threads(args.threads)
    import foreign_scan
    from framework_ptycho.corpus import simulate_scan
    from framework_ptycho.dataset import load_npz

    if args.quick:
        args.scans, args.steps, args.object_size = 3, 5, 96
    began = time.perf_counter()
    network = load_network("pretrained", "cpu")
    model, losses = train(pairs(args.scans, args.object_size, network), args.steps, args.seed)
    same = same_as_shipped(model)
    print("denoiser L1 on held-back pairs:", json.dumps(losses), flush=True)
    print("the shipped denoiser's weights:", "yes" if same else "no", flush=True)
    families = FAMILIES[:1] if args.quick else FAMILIES
    doses = (1e4,) if args.quick else (1e3, 1e4, 1e5)
    results, lines = {}, []
    for split in splits:
        heldout_seed, foreign_seed = SPLITS[split]
        results[split] = found = {}
        for kind in families:
            for dose in doses:
                seed = heldout_seed + FAMILIES.index(kind) * 10 + int(np.log10(dose))
                settings = {**SETTINGS, "nphotons": dose}
                rng = np.random.default_rng(seed)
                scan = simulate_scan(kind, rng, object_size=SIZE, settings=settings)
                name = f"{kind} {dose:g}"
                found[name] = case(f"{split} {name}", scan.data, SIZE, network[1], model)
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("grains",) if args.quick else ("grains", "star"):
                for s in range(1 if args.quick else 2):
                    path = Path(tmp) / f"{kind}{s}.npz"
                    foreign_scan.scan(kind, foreign_seed + s, 1e4, path)
                    data = load_npz(path)
                    name = f"{kind} {s} (foreign)"
                    found[name] = case(
                        f"{split} {name}", data, data.obj.shape[0], network[1], model
                    )
        lines += summary(split, found)
    report(
        args,
        name="ptycho learned denoiser probe",
        figure="; ".join(lines),
        target="a prior that raises SSIM and correlation on scans never trained on",
        met=None,
        command=command_line("ptycho_denoise_probe.py", sys.argv[1:]),
        details={
            "splits": splits,
            "shipped_weights": same,
            "losses": losses,
            "results": results,
            "seconds": round(time.perf_counter() - began, 1),
        },
    )


if __name__ == "__main__":
    main()
