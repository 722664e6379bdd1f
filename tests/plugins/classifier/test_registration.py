"""The plugin's steps, their order, and a start-up that imports no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

STEPS = [
    "classifier.train_baseline_head",
    "classifier.export_calib_logits",
    "classifier.sweep_thresholds",
]


def test_list_steps_shows_the_three_steps(cli):
    result = cli("list-steps", "--plugin", "classifier", "--json")
    assert result.exit_code == 0, result
    assert sorted(STEPS) == sorted(s["id"] for s in json.loads(result.stdout))


def test_sweep_plan_runs_train_then_export_then_sweep(cli):
    result = cli("graph", "sweep_thresholds")
    assert result.exit_code == 0, result
    positions = [result.stdout.index(step) for step in STEPS]
    assert positions == sorted(positions)


def test_only_export_step_declares_val_calib(cli):
    declared = {}
    for step in STEPS[:2]:  # the sweep declares no split at all
        result = cli("describe", step)
        assert result.exit_code == 0, result
        line = next(x for x in result.stdout.splitlines() if x.strip().startswith("splits"))
        declared[step] = "VAL_CALIB" in line
    assert declared == {STEPS[0]: False, STEPS[1]: True}


def test_list_steps_imports_neither_torch_nor_numpy_nor_plugin_internals():
    code = (
        "import sys; from framework.cli import main\n"
        "try:\n    main(['list-steps'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['torch', 'numpy', 'framework_classifier.steps', 'framework_classifier.config']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "classifier.sweep_thresholds" in out.stdout
    assert "LOADED []" in out.stdout
