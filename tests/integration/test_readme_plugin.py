"""A third-party plugin written only from docs/writing-plugins.md (readme_plugin/):
it installs as a distribution, runs through the CLI, and its typed code type checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, expect_error, read_events, read_manifest

PLUGIN = Path(__file__).parent / "readme_plugin"
TEXT = "the cat saw the dog and the dog saw the cat"


@pytest.fixture
def readme_plugin(plugin_site):
    plugin_site.install("readme", PLUGIN / "src", module="fwreadme.plugin", dist="fwreadme")
    yield
    for key in [k for k in sys.modules if k == "fwreadme" or k.startswith("fwreadme.")]:
        del sys.modules[key]


def test_readme_plugin_lists_its_step(cli, readme_plugin):
    result = cli("list-steps")

    assert result.exit_code == 0, result.stderr
    assert "readme.count" in result.stdout
    assert "Count the words of a text" in result.stdout


def test_readme_plugin_describes_its_required_field(cli, readme_plugin):
    result = cli("describe", "readme.count")

    assert result.exit_code == 0, result.stderr
    lines = {
        line.split()[0].lstrip("-"): line for line in result.stdout.splitlines() if "--" in line
    }
    assert "required" in lines["text"], result.stdout
    assert "required" not in lines["top"], result.stdout


def test_readme_plugin_refuses_a_run_without_the_required_field(cli, readme_plugin):
    result = cli("run", "readme.count", "--run-id", "r1", "--quiet")

    expect_error(result, 2, "readme.count.text", "required")
    assert not (Path("runs") / "r1" / "counts.json").exists()


def test_readme_plugin_counts_words_through_the_cli(cli, readme_plugin):
    result = cli("run", "readme.count", "--text", TEXT, "--top", "2", "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    run_dir = Path("runs").resolve() / "r1"
    counts = json.loads((run_dir / "counts.json").read_text())
    words = TEXT.split()
    assert counts["words"] == len(words) == 11
    assert counts["top"] == [["the", words.count("the")], ["cat", words.count("cat")]]
    assert read_manifest(run_dir)["steps"]["readme.count"]["status"] == "completed"


def test_readme_plugin_on_metrics_hook_sees_the_logged_metrics(cli, readme_plugin):
    result = cli("run", "readme.count", "--text", TEXT, "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    events = read_events(Path("runs") / "r1")
    seen = [e for e in events if e["event"] == "readme_saw_metrics"]
    assert [(e["step"], e["fields"]["names"]) for e in seen] == [
        ("readme.count", ["distinct", "words"])
    ]


# -- its types, as the plugin author's type checker sees them -------------------------------


def mypy(tmp_path: Path, src: Path) -> subprocess.CompletedProcess[str]:
    """mypy over the plugin's package, strict, with the framework's own types."""
    binary = Path(sys.executable).with_name("mypy")
    if not binary.exists():
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    command = [str(binary), "--strict", "--follow-imports=silent"]
    # Run outside the repository, so none of its own mypy settings apply.
    return subprocess.run(
        [*command, "--cache-dir", str(tmp_path / "cache"), "-p", "fwreadme"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"MYPYPATH": f"{src}:{REPO / 'core'}", "PATH": "/usr/bin:/bin"},
    )


def test_readme_plugin_type_checks_strictly(tmp_path):
    result = mypy(tmp_path, PLUGIN / "src")

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelled_config_field_fails_the_type_check(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PLUGIN / "src", src)
    steps = src / "fwreadme" / "steps.py"
    steps.write_text(steps.read_text().replace("ctx.config.top", "ctx.config.tpo"))

    result = mypy(tmp_path, src)

    assert result.returncode == 1, result.stdout + result.stderr
    assert '"CountConfig" has no attribute "tpo"' in result.stdout
