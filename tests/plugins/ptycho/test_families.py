"""Object families, train/test family separation and varied probes in ptycho.simulate."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plugins.ptycho.conftest import simulate_small

KINDS = ("lines", "smooth", "natural", "blobs", "polygons")


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_stays_in_its_ranges_and_is_seeded(kind):
    from framework_ptycho.objects import AMPLITUDE_FLOOR, PHASE_LIMIT, make_object

    obj = make_object(kind, 96, np.random.default_rng(3))
    again = make_object(kind, 96, np.random.default_rng(3))
    other = make_object(kind, 96, np.random.default_rng(4))
    floor, limit = (0.5, 1.0) if kind in ("lines", "smooth") else (AMPLITUDE_FLOOR, PHASE_LIMIT)
    amplitude, phase = np.abs(obj), np.angle(obj)
    assert obj.shape == (96, 96) and obj.dtype == np.complex64
    assert amplitude.min() >= floor - 1e-5 and amplitude.max() <= 1 + 1e-5
    assert np.abs(phase).max() <= limit + 1e-5
    # Not flat: both parts use much of their range.
    assert amplitude.max() - amplitude.min() > 0.2 and phase.max() - phase.min() > 0.5
    assert np.array_equal(obj, again) and not np.array_equal(obj, other)


def test_natural_family_reads_only_pictures_inside_the_installed_package():
    from framework_ptycho.objects import PICTURES, picture

    for name in PICTURES:
        image = picture(name)
        assert image.ndim == 2 and min(image.shape) >= 100 and 0 <= image.min() < image.max() <= 1


def test_natural_amplitude_and_phase_come_from_different_pictures():
    from framework_ptycho.objects import natural_object

    obj = natural_object(96, np.random.default_rng(0))
    r = np.corrcoef(np.abs(obj).ravel(), np.angle(obj).ravel())[0, 1]
    assert abs(r) < 0.9


def test_a_held_out_test_family_gives_training_nothing_of_the_test_object():
    train, test, _ = simulate_small(
        object_kind="blobs", train_kinds=["lines", "smooth"], train_objects=2
    )
    same, _, _ = simulate_small(object_kind="blobs", train_kinds=["blobs"], train_objects=1)
    full_scan = len(test) + len(same)  # one object's whole scan
    assert len(train) == 2 * full_scan and train.obj is None
    # Every training pattern comes from the two further objects, none from the test's.
    assert train.scan_index.min() >= full_scan
    flat = test.patches.reshape(len(test), -1)
    assert not any(np.allclose(p, flat[0]) for p in train.patches.reshape(len(train), -1))


def test_sharing_the_test_family_keeps_the_test_objects_other_rows_in_training():
    alone, alone_test, _ = simulate_small(object_kind="lines")
    full_scan = len(alone) + len(alone_test)
    train, test, _ = simulate_small(
        object_kind="lines", train_kinds=["lines", "blobs"], train_objects=2
    )
    own = train.scan_index < full_scan
    assert own.sum() == len(alone) and (~own).sum() == full_scan  # its rows + one blobs object
    assert np.intersect1d(train.scan_index, test.scan_index).size == 0


def test_probe_aberration_is_random_but_seeded():
    base = simulate_small(probe_aberration=0.0)[1].probe
    aberrated = simulate_small(probe_aberration=0.8)[1].probe
    again = simulate_small(probe_aberration=0.8)[1].probe
    other = simulate_small(probe_aberration=0.8, seed=1)[1].probe
    assert np.allclose(np.abs(base), np.abs(aberrated))  # the phase changes, not the disk
    assert not np.allclose(base, aberrated) and np.array_equal(aberrated, again)
    assert not np.allclose(aberrated, other)


def test_simulate_step_takes_train_kinds_and_test_kind(tmp_path):
    from tests.conftest import invoke

    result = invoke(
        "run",
        "ptycho.simulate",
        "--artifact-root",
        str(tmp_path),
        "--run-id",
        "fam",
        "--object-size",
        "128",
        "--test-kind",
        "polygons",
        "--train-kinds",
        "natural,blobs",
        "--train-objects",
        "2",
        "--quiet",
    )
    assert result.exit_code == 0, result.stderr
    bad = invoke(
        "run",
        "ptycho.simulate",
        "--artifact-root",
        str(tmp_path),
        "--train-kinds",
        "cats",
        "--quiet",
    )
    assert bad.exit_code == 2 and "cats" in bad.stderr
