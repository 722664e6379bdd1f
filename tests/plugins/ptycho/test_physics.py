"""Physics round trips and the one sign convention (see framework_ptycho.physics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from framework_ptycho import physics
from framework_ptycho.grouping import make_groups

from tests.plugins.ptycho.conftest import simulate_small


def random_complex(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(*shape, generator=g), torch.randn(*shape, generator=g))


def test_centred_fft_conserves_energy():
    field = random_complex(3, 64, 64)
    spectrum = physics.fft2c(field)
    assert torch.allclose(
        (spectrum.abs() ** 2).sum((-2, -1)), (field.abs() ** 2).sum((-2, -1)), rtol=1e-4
    )
    assert torch.allclose(physics.ifft2c(spectrum), field, atol=1e-5)


def test_centred_fft_puts_zero_frequency_at_pixel_n_over_2():
    spectrum = physics.fft2c(torch.ones(64, 64, dtype=torch.complex64))
    peak = np.unravel_index(int(spectrum.abs().argmax()), (64, 64))
    assert peak == (32, 32)
    assert spectrum.abs()[32, 32] == pytest.approx(64.0)  # sqrt(N^2) with the orthonormal norm


def test_translate_moves_content_by_plus_dx_columns_and_plus_dy_rows():
    img = torch.zeros(1, 1, 16, 16)
    img[0, 0, 8, 8] = 1.0
    moved = physics.translate(img, torch.tensor([[[3.0, -2.0]]]))
    assert np.unravel_index(int(moved.argmax()), (16, 16)) == (6, 11)


def test_group_offsets_are_positions_minus_the_group_centre():
    xs = np.array([10.0, 20.0, 10.0, 20.0, 50.0])
    ys = np.array([10.0, 10.0, 20.0, 20.0, 50.0])
    index, offsets = make_groups(xs, ys, 2, 4, 3, np.random.default_rng(0))
    positions = np.stack([xs, ys], axis=1)[index]
    assert np.allclose(offsets, positions - positions.mean(axis=1, keepdims=True))
    assert np.allclose(offsets.sum(axis=1), 0)
    first = index[0].tolist()
    right = first.index(max(first, key=lambda i: xs[i]))
    assert offsets[0, right, 0] > 0  # the rightmost pattern has a positive dx


def test_extract_patches_puts_the_scan_position_at_pixel_n_over_2():
    obj = torch.zeros(64, 64, dtype=torch.complex64)
    obj[40, 25] = 1
    patch = physics.extract_patches(obj, torch.tensor([25.0]), torch.tensor([40.0]), 16)[0]
    assert np.unravel_index(int(patch.abs().argmax()), (16, 16)) == (8, 8)


def test_merge_then_extract_is_the_identity_on_a_known_object():
    n = 32
    obj = random_complex(96, 96, seed=1)
    xs = torch.tensor([40.0, 48.0, 40.0, 48.0])  # integer offsets from the centre (44, 44):
    ys = torch.tensor([40.0, 40.0, 49.0, 47.0])  # bilinear sampling is then exact
    patches = physics.extract_patches(obj, xs, ys, n)[None]  # one group (1, 4, n, n)
    centre = torch.stack([xs, ys], -1).mean(0)
    offsets = (torch.stack([xs, ys], -1) - centre)[None]
    mask = physics.central_mask(n, n // 2)
    masked = patches * mask
    back = physics.extract(physics.merge(masked, offsets, mask), offsets, n)
    assert torch.allclose(back * mask, masked, atol=1e-5)


def test_merge_with_the_opposite_sign_breaks_the_identity():
    n = 32
    obj = random_complex(96, 96, seed=2)
    xs, ys = torch.tensor([40.0, 48.0, 40.0, 48.0]), torch.tensor([40.0, 40.0, 48.0, 48.0])
    patches = physics.extract_patches(obj, xs, ys, n)[None]
    offsets = (torch.stack([xs, ys], -1) - torch.tensor([44.0, 44.0]))[None]
    mask = physics.central_mask(n, n // 2)
    back = physics.extract(physics.merge(patches * mask, -offsets, mask), -offsets, n)
    assert not torch.allclose(back * mask, patches * mask, atol=1e-2)


def test_stitch_inverts_extract_patches_where_patches_cover():
    obj = random_complex(80, 80, seed=3)
    xs, ys = torch.tensor([30.0, 38.0, 47.0]), torch.tensor([40.0, 41.0, 40.0])
    patches = physics.extract_patches(obj, xs, ys, 16)
    stitched, cover = physics.stitch(patches, xs, ys, 80)
    assert torch.allclose(stitched[35:45, 25:50], obj[35:45, 25:50], atol=1e-5)
    assert cover[0, 0] == 0 and cover[40, 40] > 0


def test_stitch_equals_translating_each_padded_patch():
    # The splatting stitch against the plain definition: every patch zero-padded to the
    # object, moved to its (fractional) position by `translate`, summed and averaged.
    gen = torch.Generator().manual_seed(4)
    n, size = 12, 48
    patches = torch.complex(
        torch.randn(7, n, n, generator=gen), torch.randn(7, n, n, generator=gen)
    )
    xs = torch.tensor([6.0, 20.3, 24.75, 30.5, 41.9, 3.2, 45.6])  # some reach past the edge
    ys = torch.tensor([10.0, 22.6, 7.1, 30.0, 40.45, 44.0, 2.5])
    shift = torch.stack([xs - size // 2, ys - size // 2], -1)[None]
    total = physics.translate(physics.pad_centre(patches, size)[None], shift)[0].sum(0)
    weight = physics.translate(physics.pad_centre(torch.ones(7, n, n), size)[None], shift)[0].sum(0)
    expected = torch.where(weight > 1e-3, total / weight.clamp_min(1e-3), torch.zeros_like(total))
    stitched, cover = physics.stitch(patches, xs, ys, size)
    assert torch.allclose(cover, weight, atol=1e-5)
    assert torch.allclose(stitched, expected, atol=1e-4)
    # weights: the sum of k predictions at one position, counted k times, stitches like
    # the k predictions themselves.
    copies = patches[:3] + torch.randn(3, n, n, generator=gen)
    every = physics.stitch(
        torch.cat([patches, copies]), xs[[*range(7), 0, 1, 2]], ys[[*range(7), 0, 1, 2]], size
    )
    sums = torch.cat([patches[:3] + copies, patches[3:]])
    counted = physics.stitch(sums, xs, ys, size, weights=torch.tensor([2.0] * 3 + [1.0] * 4))
    assert torch.allclose(counted[0], every[0], atol=1e-4) and torch.allclose(counted[1], every[1])


def test_stitch_align_phase_removes_each_patch_s_own_constant_phase():
    # Each pattern's constant phase is unobservable: patches of one object, each turned
    # by its own random angle, stitch back to the object (up to one global phase) as the
    # rounds of alignment spread agreement across the scan.
    obj = random_complex(80, 80, seed=5)
    grid = torch.arange(24.0, 57.0, 4.0)
    ys, xs = (g.ravel() for g in torch.meshgrid(grid, grid, indexing="ij"))
    patches = physics.extract_patches(obj, xs, ys, 16)
    angles = torch.rand(len(xs), generator=torch.Generator().manual_seed(6)) * 2
    turned = patches * torch.polar(torch.ones(len(xs)), angles)[:, None, None]

    def error(rounds):
        stitched = physics.stitch(turned, xs, ys, 80, align_phase=rounds)[0][24:56, 24:56]
        truth = obj[24:56, 24:56]
        global_phase = torch.sgn((stitched * truth.conj()).sum())
        return float((stitched - global_phase * truth).abs().max())

    errors = [error(rounds) for rounds in (0, 1, 3, 10)]
    assert errors[0] > 0.5
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.15
    # Patches that already agree are left as they are.
    plain = physics.stitch(patches, xs, ys, 80)
    aligned = physics.stitch(patches, xs, ys, 80, align_phase=1)
    assert torch.allclose(aligned[0], plain[0], atol=1e-5) and torch.equal(aligned[1], plain[1])


def test_simulated_mean_photons_equal_nphotons():
    from framework_ptycho.simulate import disk_probe, lines_object, noisy_diffraction

    rng = np.random.default_rng(0)
    obj = lines_object(128, rng)
    xs = ys = np.linspace(40, 88, 6)
    patches = physics.extract_patches(
        torch.from_numpy(obj), torch.from_numpy(xs), torch.from_numpy(ys), 64
    ).numpy()
    probe = disk_probe(64, 16)
    clean = (
        np.abs(
            np.fft.fftshift(
                np.fft.fft2(np.fft.ifftshift(patches * probe, axes=(1, 2)), norm="ortho"),
                axes=(1, 2),
            )
        )
        ** 2
    ).sum(axis=(1, 2))
    amplitude = noisy_diffraction(patches, probe, 1e4, rng)
    counts = (amplitude.astype(np.float64) ** 2).sum(axis=(1, 2)) * 1e4 / clean.mean()
    assert counts.mean() == pytest.approx(1e4, rel=0.02)  # Poisson: sd ~ 1e-2 / sqrt(6)
    photons = amplitude.astype(np.float64) ** 2 * 1e4 / clean.mean()
    assert np.allclose(photons, np.round(photons), atol=1e-2)  # whole photons


def test_simulation_is_deterministic_for_a_seed():
    kwargs = dict(object_kind="smooth", overlap=0.5, scan="random", nphotons=1e3)
    a, b = simulate_small(seed=5, **kwargs), simulate_small(seed=5, **kwargs)
    c = simulate_small(seed=6, **kwargs)
    assert np.array_equal(a[0].diffraction, b[0].diffraction) and np.array_equal(a[2], b[2])
    assert not np.array_equal(a[0].diffraction, c[0].diffraction)


def test_extra_training_objects_add_whole_scans_and_keep_the_test_split():
    train, test, obj = simulate_small()
    more_train, same_test, same_obj = simulate_small(train_objects=3)
    assert np.array_equal(same_test.diffraction, test.diffraction)
    assert np.array_equal(same_obj, obj)
    scan = len(train) + len(test)
    assert len(more_train) == len(train) + 2 * scan  # two further objects, scanned whole
    assert np.array_equal(more_train.diffraction[: len(train)], train.diffraction)
    assert not np.array_equal(
        more_train.diffraction[len(train) : len(train) + scan][:5], train.diffraction[:5]
    )
    assert more_train.obj is None and train.obj is not None
    assert len(np.unique(more_train.scan_index)) == len(more_train)
    # Each object's patterns sit in their own band of x: groups never mix two objects.
    band = (more_train.xcoords // (128 + 2 * 64)).astype(int)
    index, _ = make_groups(
        more_train.xcoords, more_train.ycoords, 2, 7, None, np.random.default_rng(0)
    )
    assert (band[index] == band[index][:, :1]).all()
    assert set(band) == {0, 1, 2}


def test_simulated_train_and_test_are_split_along_y(simulated):
    train, test, _ = simulated
    assert train.ycoords.max() < test.ycoords.min()


def test_probe_defocus_spreads_its_far_field_over_the_detector():
    from framework_ptycho.simulate import disk_probe

    def far_field_radius(probe):  # rms radius of |FFT(probe)|^2 in detector pixels
        power = physics.fft2c(torch.from_numpy(probe)).abs().numpy() ** 2
        yy, xx = np.mgrid[:64, :64] - 32
        return float(np.sqrt(((xx**2 + yy**2) * power).sum() / power.sum()))

    flat, defocused = disk_probe(64, 16, defocus=0.0), disk_probe(64, 16, defocus=5.0)
    assert np.allclose(np.abs(flat), np.abs(defocused))  # same disk, only the phase differs
    assert far_field_radius(defocused) > 2 * far_field_radius(flat)


def test_network_output_pixels_sit_over_the_central_half_of_the_input():
    # Output pixel (i, j) must depend most on input pixel (i + N/4, j + N/4): the network
    # refines a real-space estimate, which a 2x zoom between input and output would defeat.
    from framework_ptycho.model import PtychoUNet

    torch.manual_seed(0)
    net = PtychoUNet(channels=1, n_filters_scale=0.25, in_per_channel=1)
    features = torch.zeros(1, 1, 64, 64, requires_grad=True)
    amplitude, _ = net(features)
    assert amplitude.shape == (1, 1, 32, 32)
    amplitude[0, 0, 5, 20].backward()
    grad = features.grad[0, 0].abs()
    peak = np.unravel_index(int(grad.argmax()), (64, 64))
    assert abs(peak[0] - (5 + 16)) <= 2 and abs(peak[1] - (20 + 16)) <= 2
