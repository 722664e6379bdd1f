"""Shell completion, driven in-process through click's completion environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from framework.cli import cli


def complete(*words: str, shell: str = "bash") -> list[str]:
    """What `framework WORDS<TAB>` offers: the last word is the one being completed."""
    env = {
        "_FRAMEWORK_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": " ".join(["framework", *words]),
        "COMP_CWORD": str(len(words)),
    }
    if shell == "fish":  # fish passes the words before the cursor, then the word itself
        env["COMP_WORDS"] = " ".join(["framework", *words[:-1]])
        env["COMP_CWORD"] = words[-1]
    result = CliRunner().invoke(cli, [], env=env, prog_name="framework")
    assert result.exit_code == 0, result.output
    if shell == "bash":  # "type,value" lines
        return [line.partition(",")[2] for line in result.output.splitlines() if line]
    return [line for line in result.output.splitlines() if line]


def values(*words: str) -> set[str]:
    return set(complete(*words))


OTHER = """
import attrs
from framework import Step, hookimpl, field

@attrs.define
class Config:
    epochs: int = field(3, help="passes")

@hookimpl
def register_steps(register):
    register(Step(id="other.train", run=__name__ + ":run", config=__name__ + ":Config",
                  description="another train"))
"""


def _make_run(root: Path, run_id: str, mtime: float) -> None:
    (root / run_id).mkdir(parents=True)
    manifest = root / run_id / "manifest.json"
    manifest.write_text("{}")
    os.utime(manifest, (mtime, mtime))


def test_sub_commands_complete():
    offered = values("")

    assert {"run", "list-steps", "describe", "show", "sweeps", "completion"} <= offered
    assert values("sh") == {"show"}


def test_step_ids_and_unambiguous_short_names(pipeline, plugin_site):
    plugin_site.add("other", OTHER)

    for command in ("run", "describe", "graph", "sweep"):
        offered = values(command, "")
        assert {"pipe.prepare", "pipe.train", "pipe.report", "other.train"} <= offered, command
        assert {"prepare", "report"} <= offered, command
        assert "train" not in offered, command  # two plugins have a `train`: ambiguous
    assert values("run", "pipe.t") == {"pipe.train"}
    assert values("describe", "rep") == {"report"}


def test_a_plans_generated_options_and_their_choices(pipeline):
    offered = values("run", "pipe.train", "--")

    # fields of both steps of the plan, execution settings, the options every plan has
    assert {"--size", "--scale", "--mode", "--seed", "--accelerator", "--run-id"} <= offered
    assert {"--deterministic", "--no-deterministic", "--help"} <= offered
    assert values("run", "pipe.train", "--mode", "") == {"sum", "max"}
    assert values("run", "pipe.train", "--mode", "m") == {"max"}
    assert values("run", "pipe.train", "--accelerator", "") == {"auto", "cpu", "cuda", "mps"}
    assert values("run", "pipe.train", "--precision", "") == {"32", "bf16", "16"}
    assert values("run", "pipe.train", "--from", "") == {
        "pipe.prepare",
        "pipe.train",
        "prepare",
        "train",
    }
    assert values("run", "pipe.train", "--set", "pipe.t") == {
        "pipe.train.size=",
        "pipe.train.scale=",
        "pipe.train.mode=",
    }
    # a free value completes nothing; an option already given is not offered again
    assert values("run", "pipe.train", "--scale", "") == set()
    assert "--mode" not in values("run", "pipe.train", "--mode", "max", "--")
    # `report` has no config: its plan's fields come from upstream steps only
    assert "--size" in values("run", "report", "--s")


def test_run_ids_after_show_verify_and_run_id(pipeline, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    _make_run(root, "older", 1_000_000)
    _make_run(root, "newer", 2_000_000)
    (root / "not-a-run").mkdir()
    (root / ".cache").mkdir()
    monkeypatch.setenv("FRAMEWORK_ARTIFACT_ROOT", str(root))

    assert complete("show", "") == ["latest", "newer", "older"]  # newest first
    assert values("verify", "o") == {"older"}
    assert values("run", "pipe.train", "--run-id", "") == {"latest", "newer", "older"}
    elsewhere = tmp_path / "elsewhere"
    _make_run(elsewhere, "moved", 1_000_000)
    assert values("show", "--artifact-root", str(elsewhere), "") == {"latest", "moved"}
    assert values("run", "pipe.train", "--artifact-root", str(elsewhere), "--run-id", "") == {
        "latest",
        "moved",
    }


def test_a_real_run_is_offered(pipeline, cli):
    assert cli("run", "pipe.report", "--run-id", "first").exit_code == 0

    assert values("show", "") == {"latest", "first"}


def test_sweep_ids_after_sweeps(tmp_path):
    for sweep_id in ("grid-a", "grid-b"):
        (tmp_path / "runs" / "sweeps" / sweep_id).mkdir(parents=True)
        (tmp_path / "runs" / "sweeps" / sweep_id / "sweep_manifest.json").write_text("{}")

    assert values("sweeps", "") == {"latest", "grid-a", "grid-b"}
    assert values("sweeps", "grid-b") == {"grid-b"}


def test_sweep_options_axes_and_executors(pipeline):
    assert {"--param", "--preset", "--executor", "--size", "--mode"} <= values(
        "sweep", "pipe.train", "--"
    )
    assert {"size=", "scale=", "mode=", "seed="} <= values("sweep", "pipe.train", "-p", "")
    # the built-in executors (only this site's plugins load, so not the cluster ones)
    assert values("sweep", "pipe.train", "--executor", "") == {"local", "process"}


def test_bundled_plugins_presets_and_engine_choices():
    """The installed plugins: a preset name after --preset, ptycho's engines after --engine."""
    assert "ptycho.dose_overlap" in values("sweep", "--preset", "")
    # the preset names the step, whose fields then complete
    assert "--nphotons" in values("sweep", "--preset", "ptycho.dose_overlap", "--np")
    assert {"builtin-epie", "builtin-rpie", "ptychi-lsqml"} <= values(
        "run", "ptycho.evaluate", "--engine", ""
    )
    assert "sweep_thresholds" in values("run", "sweep_t")
    assert {"local", "process", "slurm", "ray"} <= values("sweep", "lm.train", "--executor", "")
    assert "--nproc-per-node" in values("run", "lm.train", "--npr")  # the launcher's option
    # the cluster executors' own options, as `sweep STEP --help` lists them
    assert {"--partition", "--slurm-arg", "--ray-address"} <= values("sweep", "lm.train", "--")


def test_resume_offers_run_ids_and_files(tmp_path, monkeypatch):
    _make_run(tmp_path / "runs", "R", 1_000_000)
    monkeypatch.setenv("FRAMEWORK_ARTIFACT_ROOT", str(tmp_path / "runs"))

    env = {
        "_FRAMEWORK_COMPLETE": "bash_complete",
        "COMP_WORDS": "framework run lm.train --resume ",
        "COMP_CWORD": "4",
    }
    result = CliRunner().invoke(cli, [], env=env, prog_name="framework")

    # run ids, then the shell's own file names (a checkpoint path works too)
    assert result.output.splitlines() == ["plain,latest", "plain,R", "file,"]


def test_zsh_and_fish_carry_the_help_text(pipeline):
    zsh = complete("run", "pipe.tr", shell="zsh")
    fish = complete("run", "pipe.tr", shell="fish")

    assert zsh == ["plain", "pipe.train", "reduce numbers"]
    assert fish == ["plain,pipe.train\treduce numbers"]


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")],
)
def test_completion_prints_each_shells_script(cli, shell, marker):
    result = cli("completion", shell)

    assert result.exit_code == 0
    assert "_FRAMEWORK_COMPLETE" in result.stdout
    assert marker in result.stdout


def test_completion_refuses_an_unknown_shell(cli):
    result = cli("completion", "tcsh")

    assert result.exit_code == 2
    assert "tcsh" in result.stderr


PROBE = textwrap.dedent(
    """
    import json, sys
    from framework.cli import main
    try:
        main([])
    except SystemExit:
        pass
    sys.stdout.flush()
    print("\\nPROBE " + json.dumps({m: m in sys.modules for m in ("torch", "numpy")}))
    """
)


@pytest.mark.parametrize(
    "words",
    [
        "framework run ptycho.evaluate --",
        "framework run ptycho.evaluate --engine ",
        "framework run lm.train --resume ",
        "framework sweep --preset ",
        "framework describe cl",
    ],
)
def test_completion_imports_neither_torch_nor_numpy(words):
    env = {
        **os.environ,
        "_FRAMEWORK_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, env=env
    )
    head, _, tail = proc.stdout.rpartition("\nPROBE ")
    assert tail, proc.stdout + proc.stderr
    assert head.strip(), "nothing was offered"
    assert json.loads(tail) == {"torch": False, "numpy": False}


def test_a_broken_plugin_does_not_print_into_the_command_line(pipeline, plugin_site):
    plugin_site.add("broken", "raise RuntimeError('broken at import')")
    env = {
        "_FRAMEWORK_COMPLETE": "bash_complete",
        "COMP_WORDS": "framework run pipe.",
        "COMP_CWORD": "2",
    }

    result = CliRunner().invoke(cli, [], env=env, prog_name="framework")

    assert result.stderr == ""
    assert "plain,pipe.train" in result.stdout.splitlines()


def test_blocked_completion_completes_nothing_and_has_no_command(pipeline, cli, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGINS", "completion")

    assert values("run", "") == set()
    assert values("run", "pipe.train", "--") == set()
    assert "completion" not in values("")
    assert cli("completion", "bash").exit_code == 2
