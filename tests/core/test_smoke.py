import sys

from tests.conftest import read_manifest


def test_pipeline_runs_in_order_and_writes_manifest(cli, pipeline, isolated):
    result = cli("run", "pipe.report", "--run-id", "r1")
    assert result.exit_code == 0, result.stderr
    manifest = read_manifest(isolated / "runs" / "r1")
    assert manifest["plan"] == ["pipe.prepare", "pipe.train", "pipe.report"]
    assert all(s["status"] == "completed" for s in manifest["steps"].values())
    assert sys.modules[pipeline].CALLS == ["prepare", "train", "report"]
    assert (isolated / "runs" / "r1" / "report.txt").read_text() == "value=56.0\n"
