"""A diverse simulated corpus: whole scans of many objects, probes, overlaps and doses.

What a general-purpose network trains on (the shipped pretrained bundle) and what it is
scored on: each scan draws its object family, its probe (radius, defocus, a random
aberration), its scan overlap and its dose from the ranges below, from one Generator.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from framework_ptycho.dataset import PtychoData

PROBE_RADIUS = (0.2, 0.3)  # fraction of N
PROBE_DEFOCUS = (2.0, 8.0)  # rad at the disk edge
PROBE_ABERRATION = 0.5  # std of each aberration coefficient, rad at the disk edge
OVERLAP = (0.7, 0.85)
DOSE = (1e3, 1e5)  # photons per pattern, drawn log-uniform


@attrs.define
class Scan:
    """One scanned object: its data (positions in its own pixel frame) and how it was drawn."""

    data: PtychoData
    kind: str
    settings: dict[str, Any]


def draw_settings(rng: np.random.Generator, dose: float | None = None) -> dict[str, Any]:
    """Probe, overlap and dose of one scan, from the corpus ranges (`dose` fixes the dose)."""
    return {
        "probe_radius": float(rng.uniform(*PROBE_RADIUS)),
        "probe_defocus": float(rng.uniform(*PROBE_DEFOCUS)),
        "overlap": float(rng.uniform(*OVERLAP)),
        "nphotons": float(dose if dose else np.exp(rng.uniform(*np.log(DOSE)))),
    }


def simulate_scan(
    kind: str,
    rng: np.random.Generator,
    *,
    n: int = 64,
    object_size: int = 192,
    dose: float | None = None,
    settings: dict[str, Any] | None = None,
) -> Scan:
    """One object of family `kind` scanned whole on a grid, with drawn (or given) settings."""
    import torch

    from framework_ptycho.objects import make_object
    from framework_ptycho.physics import extract_patches
    from framework_ptycho.simulate import (
        disk_probe,
        noisy_diffraction,
        random_aberration,
        scan_positions,
    )

    chosen = settings or draw_settings(rng, dose)
    radius = chosen["probe_radius"] * n
    probe = disk_probe(
        n,
        radius,
        chosen["probe_defocus"],
        aberration=random_aberration(PROBE_ABERRATION, rng),
    )
    obj = make_object(kind, object_size, rng)
    step = max(1.0, 2 * radius * (1 - chosen["overlap"]))
    xs, ys = scan_positions(object_size, n, step, "grid", rng)
    patches = extract_patches(
        torch.from_numpy(obj), torch.from_numpy(xs), torch.from_numpy(ys), n
    ).numpy()
    diffraction = noisy_diffraction(patches, probe, chosen["nphotons"], rng)
    data = PtychoData(diffraction, probe, xs, ys, obj, patches.astype(np.complex64))
    return Scan(data, kind, chosen)


def probe_radius(probe: np.ndarray) -> float:
    """The radius, as a fraction of N, of the disk with the probe's power and peak."""
    power = np.abs(probe) ** 2
    return float(np.sqrt(power.sum() / max(power.max(), 1e-30) / np.pi) / probe.shape[-1])


def truth_patches(data: PtychoData) -> np.ndarray:
    """The true object under the central N/2 x N/2 of each pattern (P, N/2, N/2), in the
    frame a network trained on this scan predicts in.

    That frame is set by the normalizations: the data scaled by `intensity_scale`, the
    probe by `normalized_probe`. The object is scaled by the one factor that makes the
    forward model's energy from it equal the normalized data's (Poisson counts are
    unbiased for the intensity, so the factor is exact up to the counting noise).
    """
    import torch

    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.forward import normalized_probe
    from framework_ptycho.physics import crop_centre, diffraction_amplitude

    patches = torch.from_numpy(data.patches)
    probe = normalized_probe(torch.from_numpy(data.probe).to(torch.complex64))
    model_energy = float((diffraction_amplitude(patches, probe).double() ** 2).sum())
    data_energy = float((data.diffraction.astype(np.float64) ** 2).sum())
    factor = intensity_scale(data.diffraction) * np.sqrt(data_energy / model_energy)
    return (crop_centre(patches, data.n // 2).numpy() * factor).astype(np.complex64)
