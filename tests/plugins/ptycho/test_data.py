"""The NPZ loader (PtychoPINN-compatible) and user files through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from framework import ArtifactError
from framework_ptycho.dataset import intensity_scale, load_npz

from tests.conftest import expect_error
from tests.plugins.ptycho.conftest import TINY, write_npz


def arrays(data, **changes):
    out = {
        "diffraction": data.diffraction,
        "probeGuess": data.probe,
        "xcoords": data.xcoords,
        "ycoords": data.ycoords,
        "objectGuess": data.obj,
    }
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def test_loader_reads_a_simulated_file(simulated, tmp_path):
    train = simulated[0]
    loaded = load_npz(write_npz(tmp_path / "a.npz", **arrays(train)))
    assert np.array_equal(loaded.diffraction, train.diffraction)
    assert loaded.probe.dtype == np.complex64 and loaded.obj.shape == train.obj.shape


def test_loader_accepts_the_legacy_diff3d_key(simulated, tmp_path):
    train = simulated[0]
    legacy = arrays(train, diffraction=None, diff3d=train.diffraction)
    assert np.array_equal(
        load_npz(write_npz(tmp_path / "a.npz", **legacy)).diffraction, train.diffraction
    )


def test_loader_converts_the_h_w_n_layout(simulated, tmp_path):
    train = simulated[0]
    moved = arrays(train, diffraction=np.moveaxis(train.diffraction, 0, -1))
    assert np.array_equal(
        load_npz(write_npz(tmp_path / "a.npz", **moved)).diffraction, train.diffraction
    )


def test_loader_rejects_photon_counts(simulated, tmp_path):
    train = simulated[0]
    counts = np.round((train.diffraction * 3) ** 2)
    with pytest.raises(ArtifactError, match="looks like intensity"):
        load_npz(write_npz(tmp_path / "a.npz", **arrays(train, diffraction=counts)))


def test_loader_rejects_squared_amplitudes(simulated, tmp_path):
    train = simulated[0]
    with pytest.raises(ArtifactError, match="looks like intensity"):
        load_npz(write_npz(tmp_path / "a.npz", **arrays(train, diffraction=train.diffraction**2)))


def test_loader_rejects_a_probe_of_the_wrong_shape(simulated, tmp_path):
    train = simulated[0]
    with pytest.raises(ArtifactError, match="'probeGuess' has shape"):
        load_npz(write_npz(tmp_path / "a.npz", **arrays(train, probeGuess=train.probe[:32, :32])))


def test_loader_rejects_complex_diffraction(simulated, tmp_path):
    train = simulated[0]
    with pytest.raises(ArtifactError, match="expected real"):
        load_npz(
            write_npz(
                tmp_path / "a.npz",
                **arrays(train, diffraction=train.diffraction.astype(np.complex64)),
            )
        )


def test_loader_refuses_pickled_arrays(simulated, tmp_path):
    train = simulated[0]
    objects = np.empty(len(train), dtype=object)
    with pytest.raises(ArtifactError, match="pickled"):
        load_npz(write_npz(tmp_path / "a.npz", **arrays(train, xcoords=objects)))


def test_loader_names_a_file_that_is_not_an_npz(tmp_path):
    text = tmp_path / "scan.npz"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ArtifactError, match="is not an NPZ file"):
        load_npz(text)


def test_intensity_scale_makes_the_mean_pattern_energy_n_over_2_squared(simulated):
    diff = simulated[0].diffraction
    scaled = diff * intensity_scale(diff)
    assert (scaled.astype(np.float64) ** 2).sum(axis=(1, 2)).mean() == pytest.approx(
        32**2, rel=1e-5
    )


def test_user_files_are_validated_and_copied_into_the_run(cli, simulated, tmp_path):
    train, test, _ = simulated
    a = write_npz(
        tmp_path / "train.npz", **arrays(train, diffraction=None, diff3d=train.diffraction)
    )
    b = write_npz(tmp_path / "test.npz", **arrays(test))
    result = cli(
        "run",
        "ptycho.simulate",
        "--run-id",
        "u",
        "--train-data-file",
        str(a),
        "--test-data-file",
        str(b),
        "--quiet",
    )
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(
        load_npz(tmp_path / "runs/u/data/train.npz").diffraction, train.diffraction
    )


def test_intensity_file_on_the_command_line_is_one_clear_error(cli, simulated, tmp_path):
    train, test, _ = simulated
    a = write_npz(tmp_path / "train.npz", **arrays(train, diffraction=train.diffraction**2))
    b = write_npz(tmp_path / "test.npz", **arrays(test))
    result = cli(
        "run", "ptycho.simulate", "--train-data-file", str(a), "--test-data-file", str(b), "--quiet"
    )
    expect_error(result, 2, "train.npz", "looks like intensity", "np.sqrt")


def test_missing_data_file_is_one_clear_error(cli, simulated, tmp_path):
    b = write_npz(tmp_path / "test.npz", **arrays(simulated[1]))
    result = cli(
        "run",
        "ptycho.simulate",
        "--train-data-file",
        "nope.npz",
        "--test-data-file",
        str(b),
        "--quiet",
    )
    expect_error(result, 2, "nope.npz", "does not exist")


def test_one_data_file_without_the_other_is_refused(cli, simulated, tmp_path):
    a = write_npz(tmp_path / "train.npz", **arrays(simulated[0]))
    result = cli("run", "ptycho.simulate", "--train-data-file", str(a), "--quiet")
    expect_error(result, 2, "--test-data-file")


def test_extra_simulated_objects_with_data_files_are_refused(cli, simulated, tmp_path):
    a = write_npz(tmp_path / "train.npz", **arrays(simulated[0]))
    b = write_npz(tmp_path / "test.npz", **arrays(simulated[1]))
    files = ["--train-data-file", str(a), "--test-data-file", str(b)]
    result = cli("run", "ptycho.simulate", *files, "--train-objects", "2", "--quiet")
    expect_error(result, 2, "--train-objects")


def test_patch_size_outside_64_and_128_is_refused(cli):
    expect_error(cli("run", "ptycho.simulate", "--n", "48", *TINY), 2, "$.ptycho.simulate.n")


@pytest.mark.parametrize(
    ("scale", "shift", "message"),
    [
        (1e-8, 0.0, "less than one"),  # metres, not pixels
        (1e3, 0.0, "pixels wide"),  # nanometres
        (1.0, 20.0, "reach outside 'objectGuess'"),
        (1.0, -20.0, "reach outside 'objectGuess'"),
    ],
)
def test_loader_refuses_positions_not_in_object_pixels(simulated, tmp_path, scale, shift, message):
    train = simulated[0]
    moved = arrays(train, xcoords=train.xcoords * scale + shift, ycoords=train.ycoords * scale)
    with pytest.raises(ArtifactError, match=message):
        load_npz(write_npz(tmp_path / "a.npz", **moved))


def test_loader_refuses_non_finite_positions(simulated, tmp_path):
    train = simulated[0]
    xs = train.xcoords.copy()
    xs[1] = np.nan
    with pytest.raises(ArtifactError, match="non-finite"):
        load_npz(write_npz(tmp_path / "a.npz", **arrays(train, xcoords=xs)))


def test_positions_centred_on_zero_are_framed_from_pixel_zero(simulated, tmp_path):
    from framework_ptycho.dataset import framed, object_side

    train = simulated[0]
    half = train.n / 2
    centre = (train.xcoords.min() + train.xcoords.max()) / 2
    centred = arrays(
        train, objectGuess=None, xcoords=train.xcoords - centre + 0.25, ycoords=train.ycoords
    )
    data, shift = framed(load_npz(write_npz(tmp_path / "a.npz", **centred)))
    assert data.xcoords.min() - half >= 0 and data.xcoords.min() - half < 1
    assert shift[1] == 0 and shift[0] == np.round(shift[0])  # whole pixels: fractions kept
    assert np.allclose(data.xcoords - shift[0], train.xcoords - centre + 0.25)
    assert object_side(data) >= data.xcoords.max() + half
    # With an objectGuess the file's frame is kept as it is.
    same, none = framed(load_npz(write_npz(tmp_path / "b.npz", **arrays(train))))
    assert np.array_equal(same.xcoords, train.xcoords) and not none.any()


def test_user_files_centred_on_zero_run_through_the_iterative_engine(cli, simulated, tmp_path):
    train, test, _ = simulated
    files = []
    for name, data in (("train", train), ("test", test)):
        centred = arrays(
            data, objectGuess=None, xcoords=data.xcoords - 64, ycoords=data.ycoords - 64
        )
        files += [f"--{name}-data-file", str(write_npz(tmp_path / f"{name}.npz", **centred))]
    result = cli("run", "ptycho.epie", "--engine", "builtin-lsqml", "--iterations", "2", *files,
                 "--run-id", "c", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with np.load(tmp_path / "runs/c/epie/reconstruction.npz", allow_pickle=False) as rec:
        assert rec["xcoords"].min() >= train.n / 2


def test_loader_refuses_patterns_in_fft_order(simulated, tmp_path):
    train = simulated[0]
    corner = np.fft.ifftshift(train.diffraction, axes=(1, 2))  # zero frequency at pixel (0, 0)
    with pytest.raises(ArtifactError, match="corners") as caught:
        load_npz(write_npz(tmp_path / "a.npz", **arrays(train, diffraction=corner)))
    assert "fftshift" in caught.value.hint
