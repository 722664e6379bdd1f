"""ptycho.reconstruct with the shipped pretrained bundle: no training, no simulation."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from tests.plugins.ptycho.conftest import AMPLITUDE_FLOOR, reconstruct, write_npz


def test_the_pretrained_bundle_loads_and_its_hashes_check(tmp_path):
    from framework import ArtifactError
    from framework_ptycho.bundle import load_bundle
    from framework_ptycho.pretrained import bundle_path

    path = bundle_path("pretrained")
    bundle = load_bundle(path)
    record = bundle.extra["training.json"]
    assert bundle.n == 64 and bundle.gridsize == 2 and path.stat().st_size < 5e6
    assert "blobs" in record["held_out_kinds"] and record["held_out_metrics"]
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data[:-1] + b" " if item.filename == "training.json" else data)
    with pytest.raises(ArtifactError, match="sha256"):
        load_bundle(tampered)


def test_reconstructs_an_unseen_family_far_above_a_blank_object(tmp_path, scan_file):
    result = reconstruct(
        tmp_path, scan_file, "--refine-engine", "builtin-lsqml", "--refine-iterations", "3"
    )
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "rec"
    with np.load(run / "reconstruction.npz", allow_pickle=False) as rec:
        assert rec["object"].shape == (128, 128) and rec["xcoords"].shape == rec["ycoords"].shape
        assert float(rec["seconds"]) == pytest.approx(
            float(rec["pinn_seconds"]) + float(rec["refine_seconds"])
        )
    assert (run / "reconstructed_amplitude.png").stat().st_size > 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["pinn"]["amplitude"]["pearson"] > AMPLITUDE_FLOOR
    assert metrics["pinn + builtin-lsqml 3"]["amplitude"]["pearson"] > AMPLITUDE_FLOOR
    # Before a refinement the network runs on covering groups (about one in four
    # patterns a group at gridsize 2), for the network alone on a group around each.
    logged = json.loads((run / "manifest.json").read_text())["steps"]["ptycho.reconstruct"]
    assert logged["metrics"]["groups"] < logged["metrics"]["patterns"] / 2
    assert reconstruct(tmp_path / "alone", scan_file).exit_code == 0
    logged = json.loads((tmp_path / "alone" / "rec" / "manifest.json").read_text())
    metrics = logged["steps"]["ptycho.reconstruct"]["metrics"]
    assert metrics["groups"] == metrics["patterns"]


def test_refine_start_chooses_what_of_the_network_the_engine_starts_from(tmp_path, scan_file):
    objects = {}
    for start in ("amplitude", "object"):
        root = tmp_path / start
        result = reconstruct(root, scan_file, "--refine-engine", "builtin-lsqml",
                             "--refine-iterations", "1", "--refine-start", start)  # fmt: skip
        assert result.exit_code == 0, result.stderr
        manifest = json.loads((root / "rec" / "manifest.json").read_text())
        assert manifest["config"]["ptycho.reconstruct"]["refine_start"] == start
        with np.load(root / "rec" / "reconstruction.npz", allow_pickle=False) as rec:
            objects[start] = rec["object"]
    # One pass from a flat phase keeps far less of the network's phase than one pass
    # from its whole object.
    phase = {k: np.angle(v[32:96, 32:96]).std() for k, v in objects.items()}
    assert phase["amplitude"] < 0.7 * phase["object"]


def test_random_weights_fall_below_the_floor_and_a_new_bundle_at_their_path_reruns(
    tmp_path, scan_file
):
    import torch
    from framework_ptycho.bundle import Bundle, load_bundle, save_bundle
    from framework_ptycho.forward import PhysicsModel
    from framework_ptycho.model import build
    from framework_ptycho.pretrained import bundle_path

    shipped = load_bundle(bundle_path("pretrained"))
    torch.manual_seed(0)
    scale = shipped.train_config["n_filters_scale"]
    random = PhysicsModel(
        build(channels=4, n_filters_scale=scale), torch.ones(64, 64, dtype=torch.complex64)
    )
    path = tmp_path / "random.zip"
    save_bundle(
        path,
        Bundle(
            **{
                **{
                    k: getattr(shipped, k)
                    for k in (
                        "train_config",
                        "legacy_params",
                        "intensity_scale",
                        "n",
                        "gridsize",
                        "extra",
                    )
                },
                "state_dict": random.state_dict(),
            }
        ),
    )
    result = reconstruct(tmp_path, scan_file, "--bundle", str(path))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "rec" / "metrics.json").read_text())
    assert metrics["pinn"]["amplitude"]["pearson"] < AMPLITUDE_FLOOR
    # The trained weights copied over the same path: the bundle's content is part of the
    # step's fingerprint, so the same command reruns the step rather than keep its image.
    path.write_bytes(bundle_path("pretrained").read_bytes())
    result = reconstruct(tmp_path, scan_file, "--bundle", str(path))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "rec" / "metrics.json").read_text())
    assert metrics["pinn"]["amplitude"]["pearson"] > AMPLITUDE_FLOOR


@pytest.fixture(scope="module")
def big_patterns(tmp_path_factory):
    """A scan of 128 x 128 patterns, which the pretrained bundle (N = 64) cannot serve."""
    from framework_ptycho.dataset import save_npz

    from tests.plugins.ptycho.conftest import simulate_small

    _, test, _ = simulate_small(n=128, object_size=256, probe_radius=32, overlap=0.5)
    path = tmp_path_factory.mktemp("big") / "big.npz"
    save_npz(path, test)
    return path


def test_builtin_lsqml_passes_follow_the_dose_and_others_keep_theirs():
    from framework_ptycho.config import REFINE_ITERATIONS
    from framework_ptycho.engines import default_iterations

    lsqml = [default_iterations("builtin-lsqml", p) for p in (1, 300, 1e3, 2e4, 4e4, 1e5, 1e9)]
    assert lsqml == [10, 10, 20, 40, 80, 80, 160]
    assert default_iterations("builtin-epie", 1e5) == REFINE_ITERATIONS
    assert default_iterations("ptychi-lsqml", 1e3) == REFINE_ITERATIONS


def test_a_low_dose_scan_is_refined_for_fewer_passes_by_default(tmp_path):
    from framework_ptycho.corpus import simulate_scan
    from framework_ptycho.dataset import save_npz

    settings = {"probe_radius": 0.25, "probe_defocus": 5.0, "overlap": 0.8, "nphotons": 1e3}
    scan = simulate_scan("blobs", np.random.default_rng(3), object_size=96, settings=settings)
    save_npz(tmp_path / "dim.npz", scan.data)
    result = reconstruct(tmp_path, tmp_path / "dim.npz", "--refine-engine", "builtin-lsqml")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "rec" / "metrics.json").read_text())
    assert "pinn + builtin-lsqml 20" in metrics
    with np.load(tmp_path / "rec" / "reconstruction.npz", allow_pickle=False) as rec:
        assert len(rec["fourier_error"]) == 20


def test_refuses_patterns_of_another_size(tmp_path, big_patterns):
    result = reconstruct(tmp_path, big_patterns)
    assert result.exit_code == 2 and "128x128" in result.stderr and "64x64" in result.stderr
    assert "--bundle none" in result.stderr  # the way forward
    assert "Traceback" not in result.stderr


def test_without_a_network_an_engine_serves_any_patterns(tmp_path, big_patterns):
    result = reconstruct(tmp_path, big_patterns, "--bundle", "none",
                         "--refine-engine", "builtin-lsqml", "--refine-iterations", "4")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "rec" / "metrics.json").read_text())
    assert list(k for k in metrics if isinstance(metrics[k], dict)) == [
        "builtin-lsqml 4 from a blank object"
    ]
    # Four passes from a blank object (correlation 0) already draw the object's features.
    assert metrics["builtin-lsqml 4 from a blank object"]["amplitude"]["pearson"] > 0.3
    with np.load(tmp_path / "rec" / "reconstruction.npz", allow_pickle=False) as rec:
        assert "pinn_object" not in rec.files and float(rec["pinn_seconds"]) == 0
        assert rec["object"].shape == (256, 256)
        errors = rec["fourier_error"]
        assert len(errors) == 4 and errors[-1] < errors[0]


def test_refuses_no_network_and_no_engine(tmp_path, scan_file):
    result = reconstruct(tmp_path, scan_file, "--bundle", "none")
    assert result.exit_code == 2 and "--refine-engine" in result.stderr
    assert not (tmp_path / "rec" / "reconstruction.npz").exists()


def test_refuses_intensity_data(tmp_path, scan_file):
    with np.load(scan_file) as f:
        arrays = dict(f)
    arrays["diffraction"] = np.round(arrays["diffraction"] ** 2 * 50).astype(np.float32)
    result = reconstruct(tmp_path, write_npz(tmp_path / "counts.npz", **arrays))
    assert result.exit_code == 2 and "intensity" in result.stderr


def test_refuses_a_pickled_file(tmp_path, scan_file):
    with np.load(scan_file) as f:
        arrays = dict(f)
    arrays["extra"] = np.array([{"a": 1}], dtype=object)
    result = reconstruct(tmp_path, write_npz(tmp_path / "pickled.npz", **arrays))
    assert result.exit_code == 2 and "pickled" in result.stderr


def test_refuses_iterations_without_an_engine(tmp_path, scan_file):
    result = reconstruct(tmp_path, scan_file, "--refine-iterations", "5")
    assert result.exit_code == 2 and "--refine-engine" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "rec" / "reconstruction.npz").exists()


def test_refuses_a_probe_far_outside_its_training(tmp_path):
    from framework_ptycho.corpus import simulate_scan
    from framework_ptycho.dataset import save_npz

    wide = {"probe_radius": 0.42, "probe_defocus": 5.0, "overlap": 0.5, "nphotons": 1e4}
    scan = simulate_scan("blobs", np.random.default_rng(1), object_size=128, settings=wide)
    path = tmp_path / "wide_probe.npz"
    save_npz(path, scan.data)
    result = reconstruct(tmp_path, path)
    assert result.exit_code == 2 and "probe" in result.stderr and "radius" in result.stderr
    assert "--bundle none" in result.stderr


def test_the_shipped_denoiser_loads_and_its_hash_checks(tmp_path):
    import shutil

    from framework import ArtifactError
    from framework_ptycho import denoise

    _, record = denoise.load()
    assert record["train_kinds"] and "blobs" not in record["train_kinds"]
    assert record["held_back_l1"]["trained"] < record["held_back_l1"]["identity"]
    for name in (denoise.WEIGHTS, denoise.RECORD):
        shutil.copy(denoise.folder() / name, tmp_path / name)
    blob = (tmp_path / denoise.WEIGHTS).read_bytes()
    (tmp_path / denoise.WEIGHTS).write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(ArtifactError, match="sha256"):
        denoise.load(tmp_path)


def test_the_denoiser_changes_only_what_it_is_asked_to_inside_the_box():
    from framework_ptycho import denoise

    model, _ = denoise.load()
    rng = np.random.default_rng(0)
    obj = (1 + 0.2 * rng.standard_normal((48, 48))) * np.exp(1j * rng.uniform(-1, 1, (48, 48)))
    box = (slice(8, 40), slice(4, 44))
    level = denoise.dose_level(np.ones((1, 4, 4)))
    out = denoise.denoise(model, obj, box, level, "amplitude")
    inside = np.zeros(obj.shape, bool)
    inside[box] = True
    assert np.array_equal(out[~inside], obj[~inside])
    kept = np.abs(out[box]) > 0
    assert np.allclose(np.angle(out[box])[kept], np.angle(obj[box])[kept], atol=1e-5)
    assert np.abs(out[box]).mean() == pytest.approx(np.abs(obj[box]).mean(), rel=1e-5)
    assert not np.allclose(np.abs(out[box]), np.abs(obj[box]), atol=1e-3)
    whole = denoise.denoise(model, obj, box, level, "object")
    assert np.allclose(np.abs(whole), np.abs(out), atol=1e-6)
    assert not np.allclose(np.angle(whole[box]), np.angle(obj[box]), atol=1e-3)


def test_the_denoiser_treats_a_turned_or_mirrored_image_alike():
    # It averages over the image's eight views, so turning or mirroring the input turns
    # or mirrors the output; one view of the network alone does not (checked below).
    import torch
    from framework_ptycho import denoise

    model, _ = denoise.load()
    rng = np.random.default_rng(1)
    x = np.stack([1 + 0.2 * rng.standard_normal((36, 28)), rng.uniform(-1, 1, (36, 28))])
    x = x.astype(np.float32)
    out = denoise.apply(model, x, 0.0)
    views = [  # (turn the image, turn the result back)
        (lambda a: np.rot90(a, 1, (1, 2)), lambda a: np.rot90(a, -1, (1, 2))),
        (lambda a: a[..., ::-1], lambda a: a[..., ::-1]),
        (lambda a: np.rot90(a[:, ::-1], 3, (1, 2)), lambda a: np.rot90(a, -3, (1, 2))[:, ::-1]),
    ]
    for turn, back in views:
        again = denoise.apply(model, np.ascontiguousarray(turn(x)), 0.0)
        assert np.allclose(back(again), out, atol=1e-5)
    with torch.no_grad():
        one = model(torch.from_numpy(denoise.with_dose(x, 0.0))[None])[0].numpy()
        mirrored = model(torch.from_numpy(denoise.with_dose(x[..., ::-1].copy(), 0.0))[None])
    assert not np.allclose(mirrored[0].numpy()[..., ::-1], one, atol=1e-3)
    assert not np.allclose(out, x + one, atol=1e-3)


def test_denoise_lifts_the_refined_amplitude_of_an_unseen_family(tmp_path, scan_file):
    result = reconstruct(
        tmp_path, scan_file, "--refine-engine", "builtin-lsqml", "--denoise", "amplitude"
    )
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "rec" / "metrics.json").read_text())
    refined = metrics["pinn + builtin-lsqml 40"]
    denoised = metrics["pinn + builtin-lsqml 40 + denoised amplitude"]
    # Untrained or random weights add noise; the shipped prior removes some.
    assert denoised["amplitude"]["ssim"] > refined["amplitude"]["ssim"] + 0.05
    assert denoised["amplitude"]["pearson"] > refined["amplitude"]["pearson"]
    with np.load(tmp_path / "rec" / "reconstruction.npz", allow_pickle=False) as rec:
        assert not np.array_equal(rec["object"], rec["refined_object"])
        assert float(rec["seconds"]) == pytest.approx(
            float(rec["pinn_seconds"])
            + float(rec["refine_seconds"])
            + float(rec["denoise_seconds"])
        )


def test_refuses_denoise_without_an_engine(tmp_path, scan_file):
    result = reconstruct(tmp_path, scan_file, "--denoise", "object")
    assert result.exit_code == 2 and "--refine-engine" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_table_keeps_each_name_on_one_line_through_a_pipe(capsys):
    from framework_ptycho.report import headline

    name = "pinn + builtin-lsqml 40 + denoised amplitude"
    headline("t", {name: {"seconds": 1.0}, "pinn": {"seconds": 0.1}}, [], quiet=False)
    out = capsys.readouterr().out
    assert name in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_a_scan_centred_on_zero_reconstructs_as_the_same_scan_unmoved(tmp_path, scan_file):
    with np.load(scan_file) as f:
        arrays = {k: f[k] for k in f.files if k != "objectGuess"}
    plain = write_npz(tmp_path / "plain.npz", **arrays)
    centred = write_npz(tmp_path / "centred.npz", **{**arrays,
                        "xcoords": arrays["xcoords"] - 64, "ycoords": arrays["ycoords"] - 64})  # fmt: skip
    recs = {}
    for name, path in (("plain", plain), ("centred", centred)):
        result = reconstruct(tmp_path / name, path, "--refine-engine", "builtin-lsqml",
                             "--refine-iterations", "2")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        with np.load(tmp_path / name / "rec" / "reconstruction.npz", allow_pickle=False) as rec:
            recs[name] = {k: rec[k] for k in ("object", "xcoords", "frame_shift")}
    shift = recs["centred"]["frame_shift"]
    assert not recs["plain"]["frame_shift"].any() and shift[0] == shift[1] > 0
    assert np.allclose(recs["centred"]["xcoords"], recs["plain"]["xcoords"] - 64 + shift[0])
    # The same scan, moved by whole pixels: the same image, moved.
    offset = int(64 - shift[0])
    a = np.abs(recs["plain"]["object"][40:90, 40:90])
    b = np.abs(recs["centred"]["object"][40 - offset : 90 - offset, 40 - offset : 90 - offset])
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
