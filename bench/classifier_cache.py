"""Head-training epoch time with the backbone features cached vs recomputed every epoch.

The faces task's TRAIN split through a frozen backbone: "cached" computes features once
(as classifier.train_baseline_head does) and then trains the head on them; "uncached"
runs the backbone again in every epoch. Mean epoch time, in one process.
"""

from __future__ import annotations

import importlib
import time

import torch
from common import command_line, parser, report


def setup(backbone_name: str, image_size: int):
    from framework_classifier import data, sources

    source = sources.faces()
    targets = source.labels[:, :1]
    train = data.stratified_assignment(source.ids, targets, seed=0)["TRAIN"]
    module = importlib.import_module(f"framework_classifier.backbones.{backbone_name}")
    return (
        module.build(image_size=image_size),
        source.images[train],
        torch.from_numpy(targets[train]),
    )


def epochs(backbone, images, targets, n_epochs: int, cached: bool, batch_size: int) -> list[float]:
    """Seconds of each epoch; the first cached epoch pays for the feature extraction."""
    from framework_classifier.features import extract
    from framework_classifier.heads import build_head
    from framework_classifier.training import train_epoch

    head = build_head("linear", backbone.feature_dim, 1, seed=0)
    optimiser = torch.optim.AdamW(head.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    features, times = None, []
    for _ in range(n_epochs):
        start = time.perf_counter()
        if features is None or not cached:
            features = extract(backbone, images, batch_size)
        train_epoch(head, optimiser, features, targets, batch_size, generator)
        times.append(time.perf_counter() - start)
    return times


BACKBONES = {"tiny_cnn": "tiny", "dinov3_vits16": "dinov3", "efficientnet_lite0": "efficientnet"}


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backbone", choices=sorted(BACKBONES), default="dinov3_vits16")
    p.add_argument("--image-size", type=int, default=224, help="backbone input side (default 224)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--quick", action="store_true", help="tiny_cnn, 2 epochs: a smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.backbone, args.image_size, args.epochs = "tiny_cnn", 32, 2
    torch.set_num_threads(args.threads)

    backbone, images, targets = setup(BACKBONES[args.backbone], args.image_size)
    cached = epochs(backbone, images, targets, args.epochs, True, args.batch_size)
    uncached = epochs(backbone, images, targets, args.epochs, False, args.batch_size)
    mean_c, mean_u = sum(cached) / len(cached), sum(uncached) / len(uncached)
    steady = sum(cached[1:]) / max(len(cached) - 1, 1)
    print(
        f"{args.backbone} at {args.image_size}px, {len(images)} TRAIN images, {args.epochs} epochs"
    )
    print("| mode | mean epoch s | epochs s |\n|---|---|---|")
    print(f"| cached | {mean_c:.4f} | {', '.join(f'{t:.4f}' for t in cached)} |")
    print(f"| uncached | {mean_u:.4f} | {', '.join(f'{t:.4f}' for t in uncached)} |")
    cmd_args = (
        ["--quick"]
        if args.quick
        else [
            "--backbone",
            args.backbone,
            "--image-size",
            str(args.image_size),
            "--epochs",
            str(args.epochs),
        ]
    )
    return report(
        args,
        name=f"classifier: head epoch with cached {args.backbone} features vs recomputed",
        figure=f"{mean_u / steady:.0f}x faster per epoch after the first ({steady:.3f} s vs "
        f"{mean_u:.2f} s); {mean_u / mean_c:.1f}x over {args.epochs} epochs with the extraction",
        target="-",
        met=None,
        command=command_line("classifier_cache.py", cmd_args),
        details={
            "cached_s": cached,
            "uncached_s": uncached,
            "images": len(images),
            "steady_ratio": mean_u / steady,
            "mean_ratio": mean_u / mean_c,
        },
    )


if __name__ == "__main__":
    main()
