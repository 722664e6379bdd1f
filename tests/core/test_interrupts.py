"""A run killed from outside leaves a valid manifest that says how it ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import jsonschema
import pytest
from framework.manifest import manifest_schema

from tests.conftest import invoke, read_manifest

SLOW = """
import time
from pathlib import Path
from framework import Step, hookimpl

def wait(ctx):
    Path("started").write_text("yes")
    time.sleep(60)
    ctx.write_text("never.txt", "x")

@hookimpl
def register_steps(register):
    register(Step(id="slow.wait", run=__name__ + ":wait", outputs=["never.txt"]))
"""


@pytest.fixture
def slow(plugin_site):
    return plugin_site.add("slow", SLOW)


def start_run(isolated) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "framework", "run", "slow.wait", "--run-id", "r1", "--quiet"],
        cwd=isolated,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (isolated / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    return proc


def test_sigterm_records_the_run_as_interrupted(slow, isolated):
    proc = start_run(isolated)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted"
    manifest = read_manifest(isolated / "runs" / "r1")
    jsonschema.validate(manifest, manifest_schema())
    assert manifest["status"] == "interrupted"
    assert manifest["steps"]["slow.wait"]["status"] == "failed"
    assert manifest["steps"]["slow.wait"]["error"] == "interrupted"


def test_a_killed_run_is_listed_as_died(slow, isolated):
    proc = start_run(isolated)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)

    assert read_manifest(isolated / "runs" / "r1")["status"] == "running"
    listing = invoke("runs")
    assert listing.exit_code == 0
    assert "died" in listing.stdout.splitlines()[0]


def test_a_run_in_progress_is_listed_as_running(slow, isolated):
    proc = start_run(isolated)
    try:
        listing = invoke("runs")
        assert "running" in listing.stdout.splitlines()[0]
    finally:
        proc.kill()
        proc.communicate(timeout=30)
