"""ptycho.evaluate: every reconstruction scored against the true object, side by side.

Rows: the PINN alone, the PINN refined (``ptycho.refine``: its seconds are the PINN's
and the refinement's together) and the iterative baseline from ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from framework import StepContext

from framework_ptycho.config import EvaluateConfig
from framework_ptycho.dataset import load_npz
from framework_ptycho.steps.common import TEST_FILE, TRUTH_FILE

RECONSTRUCTIONS = {
    "pinn": "reconstruction.npz",
    "refined": "refine/reconstruction.npz",
    "baseline": "epie/reconstruction.npz",
}


def evaluate(ctx: StepContext[EvaluateConfig]) -> None:
    """Metrics of the PINN, the refined PINN and the baseline, and a comparison figure."""
    from framework_ptycho.metrics import align, scanned_box, score
    from framework_ptycho.plots import save_comparison
    from framework_ptycho.report import headline

    with np.load(ctx.input(TRUTH_FILE), allow_pickle=False) as truth_file:
        if not bool(truth_file["has_object"]):
            ctx.fail("no ground-truth object to compare with: give a test file with 'objectGuess'")
        truth = truth_file["object"]
    test = ctx.splits.read("TEST", load_npz, ctx.input(TEST_FILE))
    box = scanned_box(test.xcoords, test.ycoords, test.n, truth.shape[0])
    results: dict[str, Any] = {
        "region": {"rows": [box[0].start, box[0].stop], "cols": [box[1].start, box[1].stop]}
    }
    panels = {"truth": truth[box]}
    for name, rel in RECONSTRUCTIONS.items():
        with np.load(ctx.input(rel), allow_pickle=False) as rec:
            obj, seconds = rec["object"], float(rec["seconds"])
            engine = str(rec["engine"]) if "engine" in rec.files else "pinn"
            parts = {k: float(rec[k]) for k in ("pinn_seconds", "refine_seconds") if k in rec.files}
        results[name] = {
            **score(truth, obj, box, ctx.config.frc_threshold),
            "seconds": seconds,
            "engine": engine,
            **parts,
        }
        panels[name] = align(truth, obj, box)[1]
    baseline_s = results["baseline"]["seconds"]
    results["speedup"] = baseline_s / max(results["pinn"]["seconds"], 1e-9)
    results["refined_speedup"] = baseline_s / max(results["refined"]["seconds"], 1e-9)
    ctx.write_json("metrics.json", results)
    with ctx.output("comparison.png") as tmp:
        save_comparison(tmp, panels)
    ctx.log_metrics(
        pinn_amp_ssim=results["pinn"]["amplitude"]["ssim"],
        pinn_phase_ssim=results["pinn"]["phase"]["ssim"],
        refined_amp_ssim=results["refined"]["amplitude"]["ssim"],
        refined_phase_ssim=results["refined"]["phase"]["ssim"],
        baseline_amp_ssim=results["baseline"]["amplitude"]["ssim"],
        baseline_phase_ssim=results["baseline"]["phase"]["ssim"],
        speedup=results["speedup"],
    )
    headline(
        f"ptycho.evaluate: {len(test)} test patterns",
        {f"{name} ({results[name]['engine']})": results[name] for name in RECONSTRUCTIONS},
        [ctx.run_dir / "metrics.json", ctx.run_dir / "comparison.png"],
        ctx.execution.quiet,
    )
