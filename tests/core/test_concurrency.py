"""Runs in parallel share one artifact root (hash cache, store) without harm."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from framework.manifest import manifest_schema

from tests.conftest import invoke, read_manifest

BUSY = """
import time
import attrs
from framework import Step, field, hookimpl

@attrs.define
class Config:
    value: int = field(1, help="what to write")

def make(ctx):
    time.sleep(0.3)  # long enough for the runs to overlap
    for i in range(5):
        ctx.write_text(f"out/{i}.txt", f"{ctx.config.value}-{i}\\n" * 1000)

@hookimpl
def register_steps(register):
    register(Step(id="busy.make", run=__name__ + ":make", config=__name__ + ":Config",
                  outputs=[f"out/{i}.txt" for i in range(5)]))
"""


@pytest.fixture
def busy(plugin_site):
    return plugin_site.add("busy", BUSY)


def test_parallel_runs_on_one_artifact_root_all_complete_intact(busy, isolated):
    # Two runs share a config (the same objects land in the store), two differ.
    values = {"a": 1, "b": 1, "c": 2, "d": 3}
    procs = {
        run_id: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "framework",
                "run",
                "busy.make",
                "--run-id",
                run_id,
                "--value",
                str(value),
                "--quiet",
            ],
            cwd=isolated,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id, value in values.items()
    }
    for run_id, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (run_id, err)

    for run_id, value in values.items():
        manifest = read_manifest(isolated / "runs" / run_id)
        jsonschema.validate(manifest, manifest_schema())
        assert manifest["status"] == "completed"
        assert (isolated / "runs" / run_id / "out" / "0.txt").read_text().startswith(f"{value}-0")
        assert invoke("verify", run_id).exit_code == 0
    json.loads((isolated / "runs" / ".cache" / "hashes.json").read_text())

    # The store holds what all of them made: a fresh run of each config reuses it.
    for value in set(values.values()):
        again = invoke(
            "run", "busy.make", "--run-id", f"again{value}", "--value", str(value), "--quiet"
        )
        assert again.exit_code == 0
        assert (
            read_manifest(isolated / "runs" / f"again{value}")["steps"]["busy.make"]["status"]
            == "reused"
        )
