"""Iterative refinement: the truth is a fixed point; from a perturbed start the Fourier
error falls every pass (built-in ePIE, maximum likelihood and LSQML)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from tests.conftest import invoke
from tests.plugins.ptycho.conftest import TINY, simulate_small


@pytest.fixture(scope="module")
def noiseless():
    """A small scan with so many photons that Poisson noise is negligible."""
    from framework_ptycho.engines import Problem

    _, test, obj = simulate_small(nphotons=1e12, object_kind="smooth", test_fraction=0.9)
    problem = Problem(test.diffraction, test.probe, test.xcoords, test.ycoords, obj.shape[0])
    return problem, obj


def _relative_error(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("engine", ["builtin-epie", "builtin-ml", "builtin-lsqml"])
def test_refinement_from_the_true_object_stays_there(noiseless, engine):
    from framework_ptycho import engines

    problem, obj = noiseless
    start = engines.start_from(problem, obj, None)
    out, errors = engines.run(engine, problem, iterations=3, init=start)
    _, blank = engines.run(engine, problem, iterations=1)
    lit = slice(40, 88)  # well inside the scanned region
    # Adam's steps have a fixed size, so at the optimum it wanders within about its
    # learning rate (0.01) of it; ePIE's update vanishes there.
    assert max(errors) < 3e-4 and blank[0] > 10 * max(errors)
    assert _relative_error(out[lit, lit], start[lit, lit]) < 0.03
    # A blank start is far from it: the test can tell.
    assert _relative_error(np.ones_like(start[lit, lit]), start[lit, lit]) > 0.2


@pytest.mark.parametrize("engine", ["builtin-epie", "builtin-ml", "builtin-lsqml"])
def test_refinement_from_a_perturbed_start_lowers_the_fourier_error_every_pass(noiseless, engine):
    from framework_ptycho import engines

    problem, obj = noiseless
    rng = np.random.default_rng(0)
    bump = ndimage.gaussian_filter(rng.standard_normal(obj.shape), 4)
    perturbed = obj * np.exp(1j * 0.5 * bump / np.abs(bump).max()) * (1 + 0.2 * bump)
    start = engines.start_from(problem, perturbed.astype(np.complex64), None)
    _, errors = engines.run(engine, problem, iterations=6, init=start)
    assert all(b < a for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 0.5 * errors[0]


def test_start_from_scales_a_network_image_to_the_measured_energy(noiseless):
    from framework_ptycho import engines

    problem, obj = noiseless
    coverage = np.zeros(obj.shape)
    coverage[4:-4, 4:-4] = 1  # the probe barely reaches the unseen border
    true_scale = engines.start_from(problem, obj, coverage)
    start = engines.start_from(problem, np.where(coverage > 0, 0.37 * obj, 0), coverage)
    inside = coverage > 0
    # The network's arbitrary scale is gone: the same start as from the true object,
    # whose exit waves carry the measured energy.
    assert np.allclose(start[inside], true_scale[inside], rtol=1e-4, atol=1e-5)
    assert (np.abs(start[~inside]) > 0).all()  # unseen pixels filled, not left at zero


def test_an_amplitude_start_keeps_the_network_amplitude_and_drops_its_phase(noiseless):
    from framework_ptycho import engines

    problem, obj = noiseless
    whole = engines.start_from(problem, obj, None)
    amplitude = engines.start_from(problem, obj, None, "amplitude")
    assert np.abs(np.angle(amplitude)).max() < 1e-6
    assert np.abs(np.angle(whole)).max() > 0.1  # the object has a phase to drop
    # Only the phase differs: the same amplitude at the same measured-energy scale.
    assert np.allclose(np.abs(amplitude), np.abs(whole), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="amplitude"):
        engines.start_from(problem, obj, None, "phase")


def test_lsqml_beats_epie_at_equal_iterations_on_noisy_data():
    from framework_ptycho import engines
    from framework_ptycho.metrics import scanned_box, score

    _, test, obj = simulate_small(nphotons=1e3, object_kind="smooth", test_fraction=0.9)
    problem = engines.Problem(
        test.diffraction, test.probe, test.xcoords, test.ycoords, obj.shape[0]
    )
    box = scanned_box(test.xcoords, test.ycoords, test.n, obj.shape[0])
    scores = {}
    for engine in ("builtin-epie", "builtin-lsqml"):
        out, _ = engines.run(engine, problem, iterations=10)
        s = score(obj, out, box)
        scores[engine] = (s["amplitude"]["ssim"], s["phase"]["ssim"])
    (epie_amp, epie_phase), (lsq_amp, lsq_phase) = scores.values()
    assert lsq_amp > epie_amp and lsq_phase > epie_phase, scores


def test_the_refine_step_makes_as_many_passes_as_the_dose_asks(tmp_path):
    """`ptycho.refine` with no --refine-iterations: builtin-lsqml's passes follow the dose
    read from the test data (20 at 1e3 photons), as `ptycho.reconstruct` makes them."""
    result = invoke(
        "run", "ptycho.refine", "--artifact-root", str(tmp_path), "--run-id", "low",
        "--nphotons", "1e3", "--max-epochs", "1", "--n-filters-scale", "0.25", *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with np.load(tmp_path / "low" / "refine" / "reconstruction.npz") as rec:
        assert str(rec["engine"]) == "pinn+builtin-lsqml-20"
        assert len(rec["fourier_error"]) == 20


@pytest.mark.parametrize(
    "options",
    [{}, {"noise": "poisson", "batch_size": 16}, {"preconditioner": "batch", "per_position": True}],
)
def test_lsqml_in_chunks_of_a_few_positions_gives_the_same_object(options):
    """A pass works through its positions a chunk at a time (its working memory); the
    object must not depend on how many positions a chunk holds."""
    from framework_ptycho import lsqml

    _, test, obj = simulate_small(nphotons=1e4, object_kind="smooth", test_fraction=0.9)
    args = (test.diffraction, test.probe, test.xcoords, test.ycoords, obj.shape[0])
    whole, errors = lsqml.reconstruct(*args, iterations=4, **options)
    pieces, piece_errors = lsqml.reconstruct(
        *args, iterations=4, chunk_pixels=5 * test.n**2, **options
    )
    assert len(test.xcoords) > 3 * 5  # several chunks, the last one short
    assert np.allclose(pieces, whole, rtol=1e-4, atol=1e-5 * np.abs(whole).max())
    assert np.allclose(piece_errors, errors, rtol=1e-4)
    assert not np.allclose(whole, lsqml.reconstruct(*args, iterations=3, **options)[0])
