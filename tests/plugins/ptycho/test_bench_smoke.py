"""bench/ptycho_study.py still runs end to end in its --quick mode (figures not checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_ptycho_bench_quick_mode_reports_pinn_and_epie(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "ptycho_study.py"),
            "--quick",
            "--threads",
            "1",
            "--json-out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())["details"]["results"]["10000"]
    assert {"pinn", "builtin-epie"} <= set(rows)
    assert rows["pinn"]["time_ratio_vs_pinn"] == 1.0


def test_heldout_bench_scores_the_network_its_refinement_and_the_reference(tmp_path):
    out = tmp_path / "heldout.json"
    args = "--families blobs --doses 1e4 --object-size 96 --refine builtin-lsqml:3"
    args += f" --from-ones builtin-lsqml:100 --ptychi-engines= --json-out {out}"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ptycho_heldout.py"), *args.split()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())["details"]["results"]["blobs 10000"]
    assert set(rows) == {"pinn", "pinn + builtin-lsqml 3", "builtin-lsqml 100"}
    # The goal line agrees with the rows it summarises.
    refined, reference = rows["pinn + builtin-lsqml 3"], rows["builtin-lsqml 100"]
    quality = all(refined[m] >= reference[m] - 0.005 for m in ("amp_ssim", "phase_ssim"))
    fast = refined["seconds"] <= reference["seconds"] / 5
    expected = f"in {int(quality)}/1 cases, <= 1/5 of its time in {int(fast)}/1"
    assert expected in proc.stdout
    # 100 passes from a blank object beat 3 passes from the network on this scan.
    assert reference["phase_ssim"] > rows["pinn"]["phase_ssim"]
