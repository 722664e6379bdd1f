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
