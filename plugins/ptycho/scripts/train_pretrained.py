"""Train the general-purpose PINN that ships in framework-ptycho (``--bundle pretrained``).

N = 64 (``--n 128`` for 128 x 128 patterns), gridsize 2, trained on a diverse simulated
corpus (framework_ptycho.corpus): many objects of the training families, each with its
own probe (radius, defocus, random aberration), scan overlap and dose (1e3 to 1e5,
log-uniform). The ``blobs`` family is held out of training. Each scan is normalized by
its own intensity scale, as ``ptycho.reconstruct`` normalizes a user's file. Validation
scans (other seeds) choose the checkpoint; test scans (other seeds again, every family,
three doses) give the held-out metrics recorded in the bundle's ``training.json``.

The shipped bundle (38 minutes on 2 CPU threads; its training.json has the command):

    python plugins/ptycho/scripts/train_pretrained.py --scans 48 --val-scans 8 \
        --object-size 160 --epochs 40 --max-minutes 62 --threads 2 \
        --n-filters-scale 0.5 --learning-rate 2e-3 --seed 2

On a GPU add ``--device cuda --bf16`` and give it more scans, epochs and width;
``--renew-every 1`` draws new training scans every epoch, so no object is seen twice.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from truth_losses import structure_error, truth_error

TRAIN_KINDS = ("natural", "lines", "smooth", "polygons")
HELD_OUT_KINDS = ("blobs",)
OUT = Path(__file__).resolve().parents[1] / "src" / "framework_ptycho" / "pretrained"


def batches_of(scans: list, rng: np.random.Generator, gridsize: int, k: int, truth: bool):
    """Every scan's groups (one around each pattern), normalized, with per-group probes;
    with `truth`, also the true object under each group's patterns (the frame of
    `truth_patches`), else None."""
    from framework_ptycho.corpus import truth_patches
    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.forward import normalized_probe
    from framework_ptycho.grouping import make_groups
    from framework_ptycho.training import Batches

    amps, offsets, probe_index, probes, truths = [], [], [], [], []
    for i, scan in enumerate(scans):
        data = scan.data
        index, offs = make_groups(data.xcoords, data.ycoords, gridsize, k, None, rng)
        scaled = data.diffraction * intensity_scale(data.diffraction)
        amps.append(torch.from_numpy(scaled[index].astype(np.float32)))
        offsets.append(torch.from_numpy(offs.astype(np.float32)))
        probe_index.append(torch.full((len(index),), i, dtype=torch.long))
        probes.append(normalized_probe(torch.from_numpy(data.probe).to(torch.complex64)))
        if truth:
            truths.append(torch.from_numpy(truth_patches(data)[index]))
    batches = Batches(
        torch.cat(amps), torch.cat(offsets), torch.stack(probes), torch.cat(probe_index)
    )
    return batches, torch.cat(truths) if truth else None


def corpus(
    kinds, count: int, seed: tuple[int, ...], object_size: int, dose=None, n: int = 64
) -> list:
    """`count` scans of N = `n`, the families in turn; scan i from the seed (*seed, i)."""
    from framework_ptycho.corpus import simulate_scan

    return [
        simulate_scan(
            kinds[i % len(kinds)],
            np.random.default_rng([*seed, i]),
            n=n,
            object_size=object_size,
            dose=dose,
        )
        for i in range(count)
    ]


def objective(model, amps, offs, probe, truth, args, autocast) -> torch.Tensor:
    """The Poisson NLL through the forward model, plus `--truth-weight` times the error
    against the simulated truth (the corpus is simulated, so the truth is known)."""
    from framework_ptycho.forward import poisson_nll

    with autocast():
        obj = model.objects(amps, probe)
    loss = poisson_nll(model.diffract(obj, offs, probe).float(), amps, 1e4)
    if args.truth_weight:
        error = structure_error if args.truth_loss == "ssim" else truth_error
        loss = loss + args.truth_weight * error(obj, truth, model.log_scale.exp())
    return loss


def train(args, model, train_data, val_data, renew) -> dict:
    """Adam with a cosine schedule over the planned steps; the best validation weights kept.
    Every `--renew-every` epochs `renew(epoch)` gives new training scans."""
    import contextlib
    import functools

    (train_set, train_truth), (val_set, val_truth) = train_data, val_data
    device = args.device
    autocast = (
        functools.partial(torch.autocast, device_type=device.split(":")[0], dtype=torch.bfloat16)
        if args.bf16
        else contextlib.nullcontext
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    steps = args.epochs * math.ceil(len(train_set) / args.batch_size)
    generator = torch.Generator().manual_seed(args.seed)
    begun, budget = time.monotonic(), 60 * args.max_minutes
    deadline = begun + budget
    done = 0

    def anneal() -> None:
        """Cosine decay over the planned steps or the time budget, whichever ends first
        (so a slow machine still ends training at a small learning rate)."""
        progress = max(done / steps, (time.monotonic() - begun) / budget)
        for group in optimizer.param_groups:
            group["lr"] = args.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    def batches(data, truth, shuffle: bool):
        order = torch.randperm(len(data), generator=generator) if shuffle else None
        for pick in (order if shuffle else torch.arange(len(data))).split(args.batch_size):
            probe = data.probes[data.probe_index[pick]][:, None]
            tensors = (data.amplitudes[pick], data.offsets[pick], probe)
            yield (
                *(t.to(device) for t in tensors),
                None if truth is None else truth[pick].to(device),
            )

    def validation_loss() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for amps, offs, probe, truth in batches(val_set, val_truth, shuffle=False):
                loss = objective(model, amps, offs, probe, truth, args, autocast)
                total += float(loss) * len(amps)
        return total / len(val_set)

    best = {"val_loss": math.inf}
    history = []
    draw = 0
    for epoch in range(args.epochs):
        if args.renew_every and epoch and epoch % args.renew_every == 0:
            train_set, train_truth = renew(epoch)
            draw += 1
        model.train()
        total, seen, began = torch.zeros((), device=device), 0, time.monotonic()
        for amps, offs, probe, truth in batches(train_set, train_truth, shuffle=True):
            loss = objective(model, amps, offs, probe, truth, args, autocast)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            anneal()
            total, seen = total + loss.detach() * len(amps), seen + len(amps)
            if time.monotonic() > deadline:
                break
        val = validation_loss()
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(total) / seen,
                "val_loss": val,
                "groups": seen,
                "draw": draw,
                "seconds": round(time.monotonic() - began, 1),
            }
        )
        print(json.dumps(history[-1]), flush=True)
        if val < best["val_loss"]:
            best = {"val_loss": val, "epoch": epoch, "state": _state(model)}
        if time.monotonic() > deadline:
            break
    model.load_state_dict(best.pop("state"))
    return {"best": best, "history": history}


def _state(model) -> dict:
    return {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}


def held_out_metrics(model, args) -> list[dict]:
    """Each family (the held-out ones too) at three doses, on test seeds never trained on
    (objects of N + 64 pixels a side)."""
    from framework_ptycho import inference
    from framework_ptycho.config import InferConfig
    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.forward import normalized_probe
    from framework_ptycho.metrics import scanned_box, score

    rows = []
    for kind in (*TRAIN_KINDS, *HELD_OUT_KINDS):
        for dose in (1e3, 1e4, 1e5):
            seed = (args.seed + 2000 + int(math.log10(dose)),)
            scan = corpus((kind,), 1, seed, args.n + 64, dose, args.n)[0]
            data = scan.data
            with torch.no_grad():
                model.probe.copy_(normalized_probe(torch.from_numpy(data.probe)).to(args.device))
            options = InferConfig()
            index = inference.choose_groups(data, 2, options, args.seed)
            result = inference.reconstruct(
                model,
                data,
                index,
                size=data.obj.shape[0],
                intensity_scale=intensity_scale(data.diffraction),
                options=options,
                device=args.device,
            )
            box = scanned_box(data.xcoords, data.ycoords, data.n, data.obj.shape[0])
            s = score(data.obj, result.obj, box)
            rows.append(
                {
                    "kind": kind,
                    "held_out_family": kind in HELD_OUT_KINDS,
                    "nphotons": dose,
                    "amp_ssim": s["amplitude"]["ssim"],
                    "phase_ssim": s["phase"]["ssim"],
                    "frc50": s["frc50"],
                    "seconds": result.seconds,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _earlier(args, p: argparse.ArgumentParser):
    """The `--init` bundle (a shipped name or a path, as `ptycho.train --init-bundle`
    takes), checked to be of the network this run builds."""
    from framework import UsageError
    from framework_ptycho.pretrained import named_bundle

    try:
        earlier = named_bundle(args.init, "--init", none="train from scratch")
    except UsageError as exc:
        p.error(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    width = earlier.train_config.get("n_filters_scale")
    if (earlier.n, earlier.gridsize, width) != (args.n, 2, args.n_filters_scale):
        p.error(
            f"--init {args.init}: a network for N = {earlier.n}, gridsize "
            f"{earlier.gridsize}, width {width}; this run builds N = {args.n}, gridsize 2, "
            f"width {args.n_filters_scale} (give --n {earlier.n} --n-filters-scale {width})"
        )
    return earlier


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=48, help="training scans (families cycle)")
    p.add_argument("--val-scans", type=int, default=8)
    p.add_argument("--n", type=int, choices=(64, 128), default=64, help="pattern size N")
    p.add_argument("--object-size", type=int, default=192)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--max-minutes", type=float, default=25.0, help="stop training after this")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--n-filters-scale", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--bf16", action="store_true", help="the network in bfloat16 (autocast)")
    p.add_argument(
        "--truth-weight",
        type=float,
        default=0.0,
        help="weight of the error against the simulated truth beside the Poisson NLL",
    )
    p.add_argument(
        "--truth-loss",
        choices=("l1", "ssim"),
        default="l1",
        help="the error against the truth: mean absolute (l1) or 1 - SSIM (ssim), each of "
        "amplitude and phase",
    )
    p.add_argument(
        "--renew-every",
        type=int,
        default=0,
        help="new training scans every this many epochs (0: the same scans throughout); "
        "a network that sees each object for a few epochs only cannot memorise it",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--init",
        help="start from this bundle's weights: 'pretrained', a path, or 'none' (from "
        "scratch, the default); a longer training in parts",
    )
    args = p.parse_args()
    if args.object_size < args.n + 32:
        p.error(f"--object-size {args.object_size}: give at least N + 32 ({args.n + 32})")
    if args.renew_every < 0:
        p.error(f"--renew-every {args.renew_every}: give 0 (never) or a number of epochs")
    earlier = _earlier(args, p) if args.init not in (None, "none") else None
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from framework_ptycho.bridge import to_params, with_data
    from framework_ptycho.bundle import Bundle, save_bundle
    from framework_ptycho.config import TrainConfig
    from framework_ptycho.forward import PhysicsModel
    from framework_ptycho.model import build

    started = time.time()
    rng = np.random.default_rng(args.seed)
    train_scans = corpus(TRAIN_KINDS, args.scans, (args.seed,), args.object_size, n=args.n)
    val_scans = corpus(TRAIN_KINDS, args.val_scans, (args.seed + 1000,), args.object_size, n=args.n)
    wanted = args.truth_weight > 0  # the truth costs memory: only when it is trained on
    train_data = batches_of(train_scans, rng, 2, 6, wanted)
    val_data = batches_of(val_scans, rng, 2, 6, wanted)
    train_set, val_set = train_data[0], val_data[0]
    print(f"{len(train_set)} training groups, {len(val_set)} validation groups", flush=True)
    net = build(channels=4, n_filters_scale=args.n_filters_scale)
    model = PhysicsModel(net, torch.from_numpy(train_scans[0].data.probe))
    if earlier:
        model.load_state_dict(earlier.state_dict)
    model.to(args.device)

    def renew(epoch: int):
        scans = corpus(TRAIN_KINDS, args.scans, (args.seed, epoch), args.object_size, n=args.n)
        return batches_of(scans, rng, 2, 6, wanted)

    fitted = train(args, model, train_data, val_data, renew)
    model.eval()
    rows = held_out_metrics(model, args)
    config = TrainConfig(
        gridsize=2,
        n_filters_scale=args.n_filters_scale,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        learning_rate=args.learning_rate,
        scheduler="cosine",
    )
    import attrs
    from framework_ptycho.corpus import DOSE, OVERLAP, PROBE_DEFOCUS, PROBE_RADIUS

    record = {
        "command": " ".join(
            ["python", "plugins/ptycho/scripts/train_pretrained.py", *sys.argv[1:]]
        ),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": round(time.time() - started, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": args.device,
        "bf16": args.bf16,
        "truth_weight": args.truth_weight,
        "truth_loss": args.truth_loss,
        "renew_every": args.renew_every,
        "train_kinds": list(TRAIN_KINDS),
        "held_out_kinds": list(HELD_OUT_KINDS),
        "n": args.n,
        "scans": {
            "train": args.scans,
            "validation": args.val_scans,
            "object_size": args.object_size,
        },
        "groups": {"train": len(train_set), "validation": len(val_set)},
        "ranges": {
            "probe_radius": list(PROBE_RADIUS),
            "probe_defocus": list(PROBE_DEFOCUS),
            "overlap": list(OVERLAP),
            "nphotons": list(DOSE),
        },
        "seeds": {"train": args.seed, "validation": args.seed + 1000, "test": args.seed + 2000},
        "best_epoch": fitted["best"]["epoch"],
        "best_val_loss": fitted["best"]["val_loss"],
        "history": fitted["history"],
        "continued_from": earlier.extra.get("training.json") if earlier else None,
        "held_out_metrics": rows,
    }
    bundle = Bundle(
        train_config={k: v for k, v in attrs.asdict(config).items()},
        legacy_params=with_data(to_params(config), args.n, 1.0),
        intensity_scale=1.0,
        n=args.n,
        gridsize=2,
        state_dict=_state(model),
        extra={"training.json": record},
    )
    args.out.mkdir(parents=True, exist_ok=True)
    save_bundle(args.out / "pretrained.zip", bundle)
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'pretrained.zip'}", flush=True)


if __name__ == "__main__":
    main()
