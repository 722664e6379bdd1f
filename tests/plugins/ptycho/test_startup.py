"""Listing steps must not import torch, numpy or the plugin's step modules."""

from __future__ import annotations

import subprocess
import sys


def test_list_steps_imports_no_heavy_module():
    code = (
        "import sys; from framework.cli import main\n"
        "try:\n    main(['list-steps'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'numpy', 'framework_ptycho.steps', 'framework_ptycho.study') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "ptycho.train" in out
    assert "HEAVY []" in out
