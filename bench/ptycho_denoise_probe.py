"""Probe: what a learned prior against counting noise buys after network + refinement.

Not a shipped feature: it measures whether the lever named in docs/plugins/ptycho.md
(a prior learned from data, since at 1e4 photons no engine reaches the issue's quality)
moves the figures on objects and simulators it never trained on.

1. Training pairs: `--scans` corpus scans of the pretrained network's training families
   (framework_ptycho.corpus, seeds of their own, doses 1e3-1e5), each reconstructed as
   `ptycho.reconstruct` does by default with refinement (the shipped network, then 40
   builtin-lsqml passes from its amplitude), against the true object.
2. A small residual CNN (7 conv layers, 32 channels; input and output: amplitude over its
   mean, phase less its mean, over the scanned region: nothing of the truth at inference)
   trained `--steps` Adam steps on random 40 x 40 crops with an L1 loss.
3. Scored, on scans never trained on: every family of the held-out bench (blobs held out
   of both networks' training) at three doses, and the independent simulator's grains and
   star at 1e4 (bench/foreign_scan.py). Rows: the refined image, the refined image with
   its amplitude denoised (phase kept), with both denoised. SSIM and correlation: a
   prior that only smooths raises the first and lowers the second.

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
from ptycho_heldout import FAMILIES, SETTINGS, load_network, network_pass

HERE = Path(__file__).resolve().parent
SPLITS = {"validation": (9000, 5000), "test": (7000, 9000)}  # held-out bench, foreign bench
SIZE = 160  # the held-out bench's objects: its scans exactly, so "refined" is its 40-pass row
PAIR_SEED = 4000  # neither the pretrained network's seeds (2, 1002, 2002-) nor a bench's
CROP = 40
METRICS = ("amp_ssim", "phase_ssim", "amp_pearson", "phase_pearson")


def refined(data, size: int, network) -> np.ndarray:
    """The shipped network, then 40 builtin-lsqml passes from its amplitude."""
    from framework_ptycho import engines

    pinn = network_pass(network, 2, data, size, "cpu")
    problem = engines.Problem(data.diffraction, data.probe, data.xcoords, data.ycoords, size)
    start = engines.start_from(problem, pinn.obj, pinn.coverage, "amplitude")
    obj, _ = engines.run("builtin-lsqml", problem, iterations=40, init=start, device="cpu")
    return obj


def channels(obj: np.ndarray) -> np.ndarray:
    """(amplitude / its mean, phase less its mean) of a region: what the denoiser sees."""
    centred = obj * np.exp(-1j * np.angle(obj.sum()))
    amplitude = np.abs(centred)
    return np.stack([amplitude / amplitude.mean(), np.angle(centred)]).astype(np.float32)


def denoiser():
    import torch

    width, layers = 32, [torch.nn.Conv2d(2, 32, 3, padding=1), torch.nn.ReLU()]
    for _ in range(5):
        layers += [
            torch.nn.Conv2d(width, width, 3, padding=1),
            torch.nn.BatchNorm2d(width),
            torch.nn.ReLU(),
        ]
    return torch.nn.Sequential(*layers, torch.nn.Conv2d(width, 2, 3, padding=1))


def pairs(count: int, object_size: int, network) -> list[tuple[np.ndarray, np.ndarray]]:
    sys.path.insert(0, str(HERE.parent / "plugins" / "ptycho" / "scripts"))
    from framework_ptycho.metrics import scanned_box
    from train_pretrained import TRAIN_KINDS, corpus

    out = []
    for scan in corpus(TRAIN_KINDS, count, (PAIR_SEED,), object_size):
        d = scan.data
        box = scanned_box(d.xcoords, d.ycoords, d.n, object_size)
        out.append((channels(refined(d, object_size, network)[box]), channels(d.obj[box])))
    return out


def train(data: list, steps: int, seed: int) -> tuple:
    """The denoiser after `steps` Adam steps; its L1 error on the held-back tenth of the
    pairs (and the refined images' own) before and after."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    held = max(1, len(data) // 10)
    fit, check = data[:-held] or data, data[-held:]
    model = denoiser()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def error() -> float:
        model.eval()
        with torch.no_grad():
            return float(np.mean([np.abs(apply(model, x) - y).mean() for x, y in check]))

    before = error()
    for _ in range(steps):
        model.train()
        xs, ys = [], []
        for _ in range(32):
            x, y = fit[rng.integers(len(fit))]
            r, c = rng.integers(x.shape[1] - CROP + 1), rng.integers(x.shape[2] - CROP + 1)
            xs.append(x[:, r : r + CROP, c : c + CROP])
            ys.append(y[:, r : r + CROP, c : c + CROP])
        x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        loss = (x + model(x) - y).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    identity = float(np.mean([np.abs(x - y).mean() for x, y in check]))
    return model, {"identity": identity, "untrained": before, "trained": error()}


def apply(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        t = torch.from_numpy(x)[None]
        return (t + model(t))[0].numpy()


def scored(truth, obj, box) -> list[float]:
    from framework_ptycho.metrics import score

    s = score(truth, obj, box)
    return [s[p][m] for m in ("ssim", "pearson") for p in ("amplitude", "phase")]


def case(name: str, data, size: int, network, model) -> dict:
    from framework_ptycho.metrics import scanned_box

    box = scanned_box(data.xcoords, data.ycoords, data.n, size)
    obj = refined(data, size, network)
    x = channels(obj[box])
    amp, phase = apply(model, x)
    both, amplitude_only = obj.copy(), obj.copy()
    both[box] = amp * np.exp(1j * phase)
    amplitude_only[box] = amp * np.exp(1j * x[1])
    rows = {
        label: dict(zip(METRICS, scored(data.obj, image, box), strict=True))
        for label, image in (
            ("refined", obj),
            ("+ denoised amplitude", amplitude_only),
            ("+ denoised both", both),
        )
    }
    for label, r in rows.items():
        print(f"{name:29s} {label:22s} " + " ".join(f"{v:.3f}" for v in r.values()), flush=True)
    return rows


def summary(split: str, results: dict) -> list[str]:
    """Per row kind: mean SSIMs and correlations, and in how many figures it beat refined."""
    base = np.array([list(rows["refined"].values()) for rows in results.values()])
    lines = []
    for label in ("refined", "+ denoised amplitude", "+ denoised both"):
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
    _, network = load_network("pretrained", "cpu")
    model, losses = train(pairs(args.scans, args.object_size, network), args.steps, args.seed)
    print("denoiser L1 on held-back pairs:", json.dumps(losses), flush=True)
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
                found[name] = case(f"{split} {name}", scan.data, SIZE, network, model)
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("grains",) if args.quick else ("grains", "star"):
                for s in range(1 if args.quick else 2):
                    path = Path(tmp) / f"{kind}{s}.npz"
                    foreign_scan.scan(kind, foreign_seed + s, 1e4, path)
                    data = load_npz(path)
                    name = f"{kind} {s} (foreign)"
                    found[name] = case(f"{split} {name}", data, data.obj.shape[0], network, model)
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
            "losses": losses,
            "results": results,
            "seconds": round(time.perf_counter() - began, 1),
        },
    )


if __name__ == "__main__":
    main()
