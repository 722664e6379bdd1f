"""The artifact store is read-only: no run changes another run's files, or the store,
through a file they share; a damaged object is dropped, never linked into a new run."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import framework.hashing
import framework.store
import pytest

from tests.conftest import read_manifest

ROOT = Path("runs")


def run_hello(cli, run_id: str, *args: str) -> Path:
    result = cli("run", "hello.evaluate", "--run-id", run_id, "--quiet", *args)
    assert result.exit_code == 0, result.stderr
    return ROOT / run_id


def statuses(run_dir: Path) -> dict[str, str]:
    return {k: v["status"] for k, v in read_manifest(run_dir)["steps"].items()}


def store_objects() -> list[Path]:
    return [p for p in (ROOT / ".store" / "objects").rglob("*") if p.is_file()]


def store_is_intact() -> bool:
    """Every object's content still has the digest it is named by."""
    return all(
        framework.hashing.hash_file(p).endswith(p.parent.name + p.name) for p in store_objects()
    )


def write_bits(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & 0o222


@pytest.fixture
def linked(monkeypatch):
    """Every file moves between a run and the store as a hard link (large files do, and
    a process that is not root does), so the tests see that path even when run as root."""
    monkeypatch.setattr(framework.store, "SHARE_ABOVE", 0)
    monkeypatch.setattr(framework.store, "links_protect", lambda: True)


def overwrite(path: Path, text: str, mode: str = "w") -> bool:
    """Write as an editor or a script would; False when the file refuses (read-only)."""
    try:
        with open(path, mode) as fh:
            fh.write(text)
    except PermissionError:
        return False
    return True


def test_editing_a_file_of_one_run_leaves_the_run_that_reused_it_intact(cli):
    a = run_hello(cli, "a")
    b = run_hello(cli, "b")
    assert statuses(b)["hello.evaluate"] == "reused"
    overwrite(a / "metrics.json", "{}\n")
    assert cli("verify", "b").exit_code == 0
    assert json.loads((b / "metrics.json").read_text()) != {}
    assert store_is_intact()


def test_appending_to_a_runs_file_reaches_neither_the_store_nor_other_runs(cli):
    a = run_hello(cli, "a")
    b = run_hello(cli, "b")
    before = (b / "metrics.json").read_bytes()
    overwrite(a / "metrics.json", "appended\n", mode="a")
    assert (b / "metrics.json").read_bytes() == before
    assert cli("verify", "b").exit_code == 0
    c = run_hello(cli, "c")
    assert (c / "metrics.json").read_bytes() == before


def test_store_objects_have_no_write_bits(cli):
    run_hello(cli, "a")
    objects = store_objects()
    assert objects
    assert all(write_bits(p) == 0 for p in objects)


def test_a_run_file_shared_with_the_store_has_no_write_bits(cli, linked):
    a = run_hello(cli, "a")
    b = run_hello(cli, "b")
    for run in (a, b):
        shared = [p for p in run.rglob("*") if p.is_file() and p.stat().st_nlink > 1]
        assert shared
        assert all(write_bits(p) == 0 for p in shared), shared


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not stop root")
def test_editing_a_linked_file_fails_as_read_only(cli, linked):
    a = run_hello(cli, "a")
    run_hello(cli, "b")
    with pytest.raises(PermissionError):
        (a / "metrics.json").write_text("{}")


def test_small_files_reach_a_new_run_as_private_editable_copies(cli):
    run_hello(cli, "a")
    b = run_hello(cli, "b")
    metrics = b / "metrics.json"
    assert metrics.stat().st_nlink == 1
    assert write_bits(metrics)


def test_chmod_then_write_of_a_linked_file_names_the_sharing_run_and_is_never_reused(cli, linked):
    a = run_hello(cli, "a")
    run_hello(cli, "b")
    expected = (a / "metrics.json").read_bytes()
    target = a / "metrics.json"
    target.chmod(0o644)
    target.write_text('{"damaged": true}\n')

    result = cli("verify", "b")
    assert result.exit_code == 1
    assert "run a" in result.stdout and "metrics.json" in result.stdout
    assert "runs a share the changed files" in result.stderr

    c = run_hello(cli, "c")
    assert statuses(c)["hello.evaluate"] == "completed"  # recomputed, not linked
    assert (c / "metrics.json").read_bytes() == expected
    assert cli("verify", "c").exit_code == 0
    assert store_is_intact()


def test_damaged_store_object_is_dropped_and_the_step_recomputed(cli):
    a = run_hello(cli, "a")
    expected = (a / "metrics.json").read_bytes()
    for obj in store_objects():
        obj.chmod(0o644)
        obj.write_bytes(b"rot")
    b = run_hello(cli, "b")
    assert set(statuses(b).values()) == {"completed"}
    assert (b / "metrics.json").read_bytes() == expected
    assert b"rot" not in {p.read_bytes() for p in store_objects()}


def test_framework_overwrites_and_removes_read_only_outputs(cli, linked):
    a = run_hello(cli, "a")
    run_hello(cli, "b")
    assert write_bits(a / "metrics.json") == 0
    assert set(statuses(run_hello(cli, "a", "--force")).values()) == {"completed"}
    assert set(statuses(run_hello(cli, "a", "--from", "hello.evaluate")).values()) >= {"completed"}
    (a / "metrics.json").unlink()
    assert statuses(run_hello(cli, "a"))["hello.evaluate"] == "reused"  # restored
    assert cli("verify", "a").exit_code == 0
    shutil.rmtree(ROOT)
    assert not ROOT.exists()
