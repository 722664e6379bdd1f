"""Typed configs of the ptycho steps; every field is a `framework run` option.

One flag sets every step of the plan that has the field (e.g. ``--nphotons`` sets both
simulate and train). Data files given by the user are read by ``ptycho.simulate``,
which validates them and writes them into the run as ``data/*.npz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs
from framework import field

# builtin-ml's Adam step, chosen on validation objects (see the plugin's docs).
ML_LEARNING_RATE = 0.01
# Refinement passes from the PINN's object: the fewest at which builtin-lsqml came within
# 0.005 SSIM of LSQML-100 (pty-chi's and its own) on every family's validation scan at
# 1e4 photons (bench/ptycho_heldout.py --seed-base 9000; 30 passes missed on two).
REFINE_ITERATIONS = 40
ObjectKind = Literal["lines", "smooth", "natural", "blobs", "polygons"]


@attrs.define
class SimulateConfig:
    n: int = field(64, choices=(64, 128), help="patch size N in pixels (simulated data)")
    nphotons: float = field(1e4, min=1.0, help="mean photons per diffraction pattern (the dose)")
    test_kind: ObjectKind = field(
        "lines",
        aliases=["object_kind"],
        help="family of the simulated test object (lines, smooth, natural, blobs, polygons)",
    )
    train_kinds: list[ObjectKind] = field(
        factory=list,
        help="families of the training objects, comma-separated (default: the test's); "
        "without the test's family nothing of the test object is trained on",
    )
    object_size: int = field(192, min=64, max=2048, help="simulated object side M in pixels")
    scan: Literal["grid", "random"] = field("grid", help="scan positions on a grid or random")
    overlap: float = field(
        0.75,
        min=0.0,
        max=0.95,
        help="linear overlap of neighbouring probe disks (scan step = diameter x (1 - overlap))",
    )
    probe_radius: float = field(
        0.25, min=0.05, max=0.45, help="probe disk radius as a fraction of N"
    )
    probe_defocus: float = field(
        5.0,
        min=0.0,
        max=20.0,
        help="probe defocus: radians of quadratic phase at the disk edge (spreads its far field)",
    )
    probe_aberration: float = field(
        0.0,
        min=0.0,
        max=3.0,
        help="random probe aberration: std of astigmatism, coma and trefoil (rad at the disk edge)",
    )
    test_fraction: float = field(
        0.25, min=0.05, max=0.9, help="share of scan rows (largest y) held out as TEST"
    )
    train_objects: int = field(
        1,
        min=1,
        max=16,
        help="simulated objects for TRAIN: the test object's other rows, plus this many - 1 "
        "further objects scanned whole (more data for the PINN, same test)",
    )
    train_data_file: Path | None = field(
        None, dependency=True, help="your own train NPZ instead of simulated data"
    )
    test_data_file: Path | None = field(
        None, dependency=True, help="your own test NPZ (with objectGuess to evaluate)"
    )


@attrs.define
class TrainConfig:
    nphotons: float = field(1e4, min=1.0, help="mean photons per diffraction pattern (the dose)")
    gridsize: int = field(
        1, min=1, max=3, help="g: groups of g x g neighbouring patterns (1 = single)"
    )
    k_neighbours: int = field(
        6, min=4, max=7, help="K: a group's patterns are drawn among K nearest neighbours"
    )
    n_groups: int | None = field(
        None, min=1, aliases=["n_images"], help="groups to train on (default: one per pattern)"
    )
    model: str = field("ptycho.pinn", help="registered model to train")
    init_bundle: str = field(
        "none",
        dependency=True,
        help="start from this bundle's weights: 'pretrained' (shipped with the plugin; needs "
        "--gridsize 2 --n-filters-scale 0.5), a model/bundle.zip path, or 'none' (random)",
    )
    n_filters_scale: float = field(
        1.0, min=0.1, max=8.0, help="U-Net width multiplier (16 x scale filters)"
    )
    loss: Literal["poisson", "mae"] = field(
        "poisson", help="Poisson NLL in counts, or MAE on amplitudes"
    )
    batch_size: int = field(16, min=1, help="groups per optimisation step")
    max_epochs: int = field(50, min=1, help="upper bound on training epochs")
    learning_rate: float = field(1e-3, min=0.0, max=1.0, help="Adam learning rate")
    scheduler: Literal["plateau", "cosine", "step", "none"] = field(
        "plateau", help="learning-rate scheduler"
    )
    lr_patience: int = field(
        3, min=1, help="plateau: epochs without improvement before the LR drops (step: its period)"
    )
    lr_factor: float = field(0.5, min=0.01, max=0.99, help="plateau/step: LR multiplier")
    early_stop_patience: int = field(
        8, min=0, help="stop after this many epochs without a better val loss (0: never)"
    )
    checkpoint_save_top_k: int = field(2, min=1, help="best checkpoints (by val loss) kept")
    val_fraction: float = field(
        0.15,
        min=0.05,
        max=0.5,
        help="share of the training scan rows (largest y) held out for validation",
    )
    probe_trainable: bool = field(
        False, help="legacy params flag; the probe is fixed in this plugin"
    )


@attrs.define
class InferConfig:
    inference_batch_size: int = field(64, min=1, help="groups per forward pass at inference")
    k_neighbours: int = field(
        6, min=4, max=7, help="K: a group's patterns are drawn among K nearest neighbours"
    )
    inference_groups: Literal["all", "cover"] = field(
        "all",
        help="gridsize > 1: a group around every pattern (each predicted ~C times, averaged), "
        "or about n/C groups that cover each pattern once (~C times faster)",
    )
    align_phase: int = field(
        1,
        min=0,
        max=20,
        help="rounds of turning each predicted patch's constant phase (which its pattern "
        "does not fix) to agree with its neighbours before averaging (0: off)",
    )


Engine = Literal[
    "builtin-epie",
    "builtin-rpie",
    "builtin-ml",
    "builtin-lsqml",
    "ptychi-lsqml",
    "ptychi-epie",
    "ptychi-dm",
]
RefineChoice = Literal[
    "none",
    "builtin-epie",
    "builtin-rpie",
    "builtin-ml",
    "builtin-lsqml",
    "ptychi-lsqml",
    "ptychi-epie",
    "ptychi-dm",
]
RefineStart = Literal["amplitude", "object"]
REFINE_START_HELP = (
    "start the engine from the network's amplitude with a flat phase, or from its whole "
    "complex object"
)
REFINE_ITERATIONS_HELP = (
    f"refinement passes over all scan positions (default: builtin-lsqml {REFINE_ITERATIONS} "
    "at 1e4 photons per pattern, read from the data, twice as many a decade more, half a "
    f"decade less, by the nearest decade; other engines {REFINE_ITERATIONS})"
)


@attrs.define
class EpieConfig:
    engine: Engine = field(
        "builtin-epie",
        help="iterative engine: built-in ePIE, rPIE, maximum likelihood by gradient (ml) "
        "or least-squares maximum likelihood (lsqml); "
        "ptychi-* need the framework-ptycho[ptychi] extra",
    )
    iterations: int = field(50, min=1, help="passes over all scan positions")
    step_size: float = field(
        1.0, min=0.01, max=2.0, help="object update step (ePIE alpha / rPIE alpha)"
    )
    ml_learning_rate: float = field(
        ML_LEARNING_RATE, min=1e-4, max=1.0, help="builtin-ml: Adam step on the object"
    )


@attrs.define
class RefineConfig:
    refine_engine: Engine = field(
        "builtin-lsqml", help="engine that refines the PINN's object (choices as --engine)"
    )
    refine_iterations: int | None = field(None, min=1, help=REFINE_ITERATIONS_HELP)
    refine_start: RefineStart = field("object", help=REFINE_START_HELP)
    step_size: float = field(
        1.0, min=0.01, max=2.0, help="object update step (ePIE alpha / rPIE alpha)"
    )
    ml_learning_rate: float = field(
        ML_LEARNING_RATE, min=1e-4, max=1.0, help="builtin-ml: Adam step on the object"
    )


@attrs.define
class EvaluateConfig:
    frc_threshold: float = field(
        0.5, min=0.0, max=1.0, help="FRC threshold for the resolution figure"
    )


@attrs.define
class ReconstructConfig:
    data_file: Path | None = field(
        None,
        dependency=True,
        help="the scan to reconstruct: a PtychoPINN-format NPZ (amplitudes, probeGuess, "
        "xcoords, ycoords; objectGuess to score)",
    )
    bundle: str = field(
        "pretrained",
        dependency=True,
        help="'pretrained' (shipped with the plugin), a model/bundle.zip path, or 'none' "
        "(no network: --refine-engine starts from a blank object; any N and probe)",
    )
    refine_engine: RefineChoice = field(
        "none", help="refine the network's object with this engine (none: the network alone)"
    )
    refine_iterations: int | None = field(
        None, min=1, help=REFINE_ITERATIONS_HELP + "; needs --refine-engine"
    )
    refine_start: RefineStart = field(
        "amplitude", help=REFINE_START_HELP + " (with --bundle none the start is blank)"
    )
    denoise: Literal["none", "amplitude", "object"] = field(
        "none",
        help="after refinement, denoise with the shipped learned prior (trained after "
        "builtin-lsqml 40): the amplitude (phase kept) or the whole object",
    )
    step_size: float = field(
        1.0, min=0.01, max=2.0, help="object update step (ePIE alpha / rPIE alpha)"
    )
    ml_learning_rate: float = field(
        ML_LEARNING_RATE, min=1e-4, max=1.0, help="builtin-ml: Adam step on the object"
    )
    inference_batch_size: int = field(64, min=1, help="groups per forward pass at inference")
    k_neighbours: int = field(
        6, min=4, max=7, help="K: a group's patterns are drawn among K nearest neighbours"
    )
    inference_groups: Literal["auto", "all", "cover"] = field(
        "auto",
        help="a group around every pattern, or about n/C groups covering each once (auto: "
        "cover when an engine refines the network's image, all for the network alone)",
    )
    align_phase: int = field(
        1, min=0, max=20, help="rounds of aligning each patch's constant phase before averaging"
    )
