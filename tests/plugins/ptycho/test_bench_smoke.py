"""The ptycho benches (study, held-out, denoise probe) still run end to end in tiny modes."""

from __future__ import annotations

from tests.benches import run_bench


def test_ptycho_bench_quick_mode_reports_pinn_and_epie(tmp_path):
    result = run_bench("ptycho_study.py", "--quick", "--threads", "1", tmp_path=tmp_path)
    rows = result["details"]["results"]["10000"]
    assert {"pinn", "builtin-epie"} <= set(rows)
    assert rows["pinn"]["time_ratio_vs_pinn"] == 1.0


def test_heldout_bench_scores_the_network_its_refinement_and_the_reference(tmp_path):
    args = "--families blobs --doses 1e4 --object-size 96 --refine builtin-lsqml:3"
    args += " --from-ones builtin-lsqml:100 --blur 2 --ptychi-engines="
    result = run_bench("ptycho_heldout.py", *args.split(), tmp_path=tmp_path)
    rows = result["details"]["results"]["blobs 10000"]
    assert set(rows) == {
        "pinn",
        "pinn + builtin-lsqml 3",
        "builtin-lsqml 100",
        "builtin-lsqml 100 + blur 2",
    }
    # The blurred row is the same reconstruction smoothed: same time, another image.
    blurred = rows["builtin-lsqml 100 + blur 2"]
    assert blurred["seconds"] == rows["builtin-lsqml 100"]["seconds"]
    assert blurred["amp_ssim"] != rows["builtin-lsqml 100"]["amp_ssim"]
    # The goal line agrees with the rows it summarises.
    refined, reference = rows["pinn + builtin-lsqml 3"], rows["builtin-lsqml 100"]
    quality = all(refined[m] >= reference[m] - 0.005 for m in ("amp_ssim", "phase_ssim"))
    fast = refined["seconds"] <= reference["seconds"] / 5
    (goal,) = result["details"]["goals"]
    assert goal.startswith("pinn + builtin-lsqml 3: ")
    assert goal.endswith(f"in {int(quality)}/1 cases, <= 1/5 of its time in {int(fast)}/1")
    # 100 passes from a blank object beat 3 passes from the network on this scan.
    assert reference["phase_ssim"] > rows["pinn"]["phase_ssim"]


def test_heldout_bench_adds_the_denoisers_rows_after_each_refinement(tmp_path):
    # `auto`: ptycho.reconstruct's default passes for the scan's dose, one name at any dose.
    args = "--families blobs --doses 1e3 --object-size 96 --refine builtin-lsqml:auto"
    args += " --denoise amplitude,object --from-ones= --ptychi-engines="
    result = run_bench("ptycho_heldout.py", *args.split(), tmp_path=tmp_path)
    rows = result["details"]["results"]["blobs 1000"]
    refined = rows["pinn + builtin-lsqml default"]
    for part in ("amplitude", "object"):
        denoised = rows[f"pinn + builtin-lsqml default + denoised {part}"]
        assert denoised["seconds"] >= refined["seconds"]
        assert denoised["amp_ssim"] != refined["amp_ssim"]
    assert len(rows) == 4


def test_denoise_probe_scores_the_refined_image_beside_its_denoised_versions(tmp_path):
    result = run_bench("ptycho_denoise_probe.py", "--quick", "--threads", "1", tmp_path=tmp_path)
    details = result["details"]
    assert set(details["results"]) == {"validation"}
    assert set(details["results"]["validation"]) == {"blobs 10000", "grains 0 (foreign)"}
    assert set(details["losses"]) == {"identity", "untrained", "trained"}
    for rows in details["results"]["validation"].values():
        assert set(rows) == {"refined", "+ denoised amplitude", "+ denoised object"}
        # Denoising the amplitude alone keeps the refined phase.
        kept, refined = rows["+ denoised amplitude"], rows["refined"]
        assert abs(kept["phase_ssim"] - refined["phase_ssim"]) < 0.02
        assert all(-1 <= v <= 1 for row in rows.values() for v in row.values())
