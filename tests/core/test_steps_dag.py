"""Step ids and names, plans in dependency order, cycles, and the Step spec's path checks."""

from __future__ import annotations

import itertools

import pytest
from framework import Step

from tests.conftest import expect_error


def steps_plugin(*specs: str) -> str:
    """Source of a plugin registering the given ``Step(...)`` expressions (callables unused)."""
    body = "\n".join(f"    register({spec})" for spec in specs)
    return f"""
from framework import Step, hookimpl

def noop(ctx):
    pass

@hookimpl
def register_steps(register):
{body}
"""


def step(step_id: str, *requires: str) -> str:
    return f"Step(id={step_id!r}, run=__name__ + ':noop', requires={list(requires)!r})"


def plan_lines(output: str) -> list[str]:
    """The step ids of `framework graph` text output, in order."""
    return [line.split()[1] for line in output.splitlines() if line.strip()]


def assert_one_error_line(result, exit_code: int = 2) -> str:
    return expect_error(result, exit_code)


# -- names --------------------------------------------------------------------------------


def test_step_is_found_by_its_qualified_id(cli, pipeline):
    result = cli("describe", "pipe.train")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("pipe.train ")


def test_short_name_works_when_unambiguous(cli, pipeline):
    by_short = cli("graph", "report")
    by_id = cli("graph", "pipe.report")

    assert by_short.exit_code == 0, by_short.stderr
    assert by_short.stdout == by_id.stdout


def test_short_name_runs_the_step(cli, pipeline, isolated):
    result = cli("run", "prepare", "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    assert (isolated / "runs" / "r1" / "data" / "numbers.json").exists()


def test_ambiguous_short_name_lists_the_candidates(cli, plugin_site):
    plugin_site.add("alpha", steps_plugin(step("alpha.train")))
    plugin_site.add("beta", steps_plugin(step("beta.train")))

    line = assert_one_error_line(cli("graph", "train"))

    assert "ambiguous" in line
    assert "alpha.train" in line
    assert "beta.train" in line


def test_ambiguous_short_name_is_refused_by_run(cli, plugin_site, isolated):
    plugin_site.add("alpha", steps_plugin(step("alpha.train")))
    plugin_site.add("beta", steps_plugin(step("beta.train")))

    line = assert_one_error_line(cli("run", "train"))

    assert "alpha.train, beta.train" in line
    assert not (isolated / "runs").exists()


def test_qualified_id_resolves_a_name_that_is_ambiguous_as_a_short_name(cli, plugin_site):
    plugin_site.add("alpha", steps_plugin(step("alpha.train")))
    plugin_site.add("beta", steps_plugin(step("beta.train")))

    result = cli("graph", "beta.train")

    assert result.exit_code == 0, result.stderr
    assert plan_lines(result.stdout) == ["beta.train"]


def test_duplicate_step_id_across_plugins_names_both_plugins(cli, plugin_site):
    plugin_site.add("alpha", steps_plugin(step("shared.fit")), dist="acme-alpha", version="1.0")
    plugin_site.add("beta", steps_plugin(step("shared.fit")), dist="acme-beta", version="2.0")

    line = assert_one_error_line(cli("list-steps"))

    assert "duplicate step id 'shared.fit'" in line
    assert "plugin 'alpha' (acme-alpha 1.0)" in line
    assert "plugin 'beta' (acme-beta 2.0)" in line


def test_duplicate_step_id_is_an_error_for_run_too(cli, plugin_site):
    plugin_site.add("alpha", steps_plugin(step("shared.fit")))
    plugin_site.add("beta", steps_plugin(step("shared.fit")))

    line = assert_one_error_line(cli("run", "shared.fit"))

    assert "duplicate step id 'shared.fit'" in line


def test_duplicate_step_id_goes_away_when_one_plugin_is_disabled(cli, plugin_site):
    plugin_site.add("alpha", steps_plugin(step("shared.fit")))
    plugin_site.add("beta", steps_plugin(step("shared.fit")))

    result = cli("--no-plugin", "beta", "list-steps")

    assert result.exit_code == 0, result.stderr
    assert "shared.fit" in result.stdout


def test_unknown_step_gets_a_did_you_mean(cli, pipeline):
    line = assert_one_error_line(cli("run", "pipe.trian"))

    assert "unknown step 'pipe.trian'" in line
    assert "did you mean 'pipe.train'" in line


def test_unknown_short_name_gets_a_did_you_mean(cli, pipeline):
    line = assert_one_error_line(cli("graph", "reprot"))

    assert "unknown step 'reprot'" in line
    assert "'report'" in line


def test_unknown_step_far_from_any_name_points_to_list_steps(cli, pipeline):
    line = assert_one_error_line(cli("describe", "zzzzzz"))

    assert "did you mean" not in line
    assert "framework list-steps" in line


# -- plans --------------------------------------------------------------------------------


def test_plan_is_in_dependency_order_not_alphabetical(cli, plugin_site):
    # z.a needs z.b, which needs z.c: alphabetical order would be exactly backwards.
    plugin_site.add("z", steps_plugin(step("z.a", "z.b"), step("z.b", "z.c"), step("z.c")))

    result = cli("graph", "z.a")

    assert result.exit_code == 0, result.stderr
    assert plan_lines(result.stdout) == ["z.c", "z.b", "z.a"]


def test_plan_of_a_diamond_lists_each_step_once_after_its_requirements(cli, plugin_site):
    plugin_site.add(
        "d",
        steps_plugin(
            step("d.top", "d.left", "d.right"),
            step("d.left", "d.base"),
            step("d.right", "d.base"),
            step("d.base"),
        ),
    )

    order = plan_lines(cli("graph", "d.top").stdout)

    assert sorted(order) == ["d.base", "d.left", "d.right", "d.top"]
    assert order[0] == "d.base"
    assert order[-1] == "d.top"


def test_plan_holds_only_the_target_and_its_upstream(cli, pipeline):
    result = cli("graph", "pipe.train")

    assert plan_lines(result.stdout) == ["pipe.prepare", "pipe.train"]


def test_requires_across_plugins_resolves(cli, plugin_site):
    plugin_site.add("up", steps_plugin(step("up.make")))
    plugin_site.add("down", steps_plugin(step("down.use", "up.make")))

    result = cli("graph", "down.use")

    assert result.exit_code == 0, result.stderr
    assert plan_lines(result.stdout) == ["up.make", "down.use"]


def test_cycle_is_reported_with_its_path(cli, plugin_site):
    plugin_site.add("c", steps_plugin(step("c.a", "c.b"), step("c.b", "c.c"), step("c.c", "c.a")))

    line = assert_one_error_line(cli("graph", "c.a"))

    assert "cycle" in line
    path = line.split("cycle: ", 1)[1].split(" (", 1)[0].split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["c.a", "c.b", "c.c"]
    # Each step on the path requires the next one.
    requires = {"c.a": "c.b", "c.b": "c.c", "c.c": "c.a"}
    assert all(requires[a] == b for a, b in itertools.pairwise(path))


def test_cycle_refuses_the_run_before_anything_runs(cli, plugin_site, isolated):
    plugin_site.add("c", steps_plugin(step("c.a", "c.b"), step("c.b", "c.a")))

    line = assert_one_error_line(cli("run", "c.a"))

    assert "cycle" in line
    assert not (isolated / "runs").exists()


def test_requires_naming_an_unknown_step_is_reported(cli, plugin_site):
    plugin_site.add("r", steps_plugin(step("r.fit", "r.prepar"), step("r.prepare")))

    line = assert_one_error_line(cli("graph", "r.fit"))

    assert "step 'r.fit' requires unknown step 'r.prepar'" in line
    assert "did you mean 'r.prepare'" in line


def test_bare_name_in_requires_means_a_step_of_the_same_plugin():
    spec = Step(id="lab.train", run="lab.steps:train", requires=["prepare", "other.load"])

    assert spec.requires == ("lab.prepare", "other.load")


# -- graph --------------------------------------------------------------------------------


def test_graph_prints_the_plan_as_numbered_text_with_requirements(cli, pipeline):
    result = cli("graph", "pipe.report")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["1.", "pipe.prepare"]
    assert lines[1].split() == ["2.", "pipe.train", "<-", "pipe.prepare"]
    assert lines[2].split() == ["3.", "pipe.report", "<-", "pipe.train"]


def test_graph_prints_mermaid(cli, pipeline):
    result = cli("graph", "pipe.report", "--format", "mermaid")

    assert result.exit_code == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == "flowchart TD"
    assert 'pipe__prepare["pipe.prepare"]' in lines
    assert 'pipe__report["pipe.report"]' in lines
    assert "pipe__prepare --> pipe__train" in lines
    assert "pipe__train --> pipe__report" in lines
    assert len([line for line in lines if "-->" in line]) == 2


def test_graph_refuses_an_unknown_format(cli, pipeline):
    result = cli("graph", "pipe.report", "--format", "dot")

    assert result.exit_code == 2
    assert "'dot' is not one of 'text', 'mermaid'" in result.stderr
    assert "Traceback" not in result.stderr


# -- the Step spec --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "C:/x", ".."])
@pytest.mark.parametrize("kind", ["inputs", "outputs"])
def test_step_spec_rejects_paths_escaping_the_run_dir(kind, path):
    with pytest.raises(ValueError, match="run directory"):
        Step(id="p.s", run="p.mod:fn", **{kind: [path]})


def test_step_spec_accepts_dotted_paths_that_stay_inside_the_run_dir():
    spec = Step(id="p.s", run="p.mod:fn", inputs=["a/./b/../data.json"], outputs=["out/model.pt"])

    assert spec.inputs == ("a/./b/../data.json",)
    assert spec.outputs == ("out/model.pt",)


def test_step_spec_accepts_glob_outputs():
    spec = Step(id="p.s", run="p.mod:fn", outputs=["checkpoints/*.pt"])

    assert spec.outputs == ("checkpoints/*.pt",)


@pytest.mark.parametrize("bad_id", ["train", ".train", "p.", "p.a b", "p/x.y"])
def test_step_spec_rejects_an_id_that_is_not_plugin_dot_step(bad_id):
    with pytest.raises(ValueError, match=r"plugin\.step"):
        Step(id=bad_id, run="p.mod:fn")


def test_step_spec_rejects_a_callable_that_is_not_an_import_path():
    with pytest.raises(ValueError, match="import path"):
        Step(id="p.s", run="p.mod.fn")


def test_step_spec_is_frozen():
    spec = Step(id="p.s", run="p.mod:fn")

    with pytest.raises(AttributeError):
        spec.version = "2"  # type: ignore[misc]


def test_plugin_registering_an_escaping_output_is_reported_and_skipped(cli, plugin_site):
    plugin_site.add(
        "esc",
        steps_plugin("Step(id='esc.bad', run=__name__ + ':noop', outputs=['../outside.txt'])"),
    )
    plugin_site.add("ok", steps_plugin(step("ok.fine")))

    result = cli("list-steps")

    assert result.exit_code == 0
    assert "ok.fine" in result.stdout
    assert "esc.bad" not in result.stdout
    assert len(result.err_lines) == 1
    assert "plugin 'esc' was skipped" in result.err_lines[0]
    assert "'../outside.txt' escapes the run directory" in result.err_lines[0]


# -- the planner on many generated graphs ---------------------------------------------------


def random_registry(rng, n: int, *, cycle: bool = False):
    from framework.steps import RegisteredStep, StepRegistry

    requires = {i: rng.sample(range(i), k=min(i, rng.randint(0, 3))) for i in range(n)}
    if cycle:
        # Walk down from a step that requires something, then add an edge back up.
        if not any(requires.values()):
            requires[n - 1] = [0]
        high = rng.choice([i for i in range(n) if requires[i]])
        low = rng.choice(requires[high])
        while requires[low] and rng.random() < 0.7:
            low = rng.choice(requires[low])
        requires[low].append(high)
    registry = StepRegistry()
    for i, reqs in requires.items():
        spec = Step(id=f"g.s{i}", run="m:f", requires=[f"g.s{r}" for r in reqs])
        registry.add(RegisteredStep(spec, "g"))
    return registry, requires


def test_plans_of_random_graphs_put_every_step_after_what_it_requires():
    import random

    from framework import dag

    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 40)
        registry, _ = random_registry(rng, n)
        target = f"g.s{rng.randrange(n)}"
        order = dag.plan(registry, target)
        assert order[-1] == target
        assert set(order) == dag.upstream(registry, target)
        position = {step: i for i, step in enumerate(order)}
        for step in order:
            for req in registry.get(step).spec.requires:
                assert position[req] < position[step]


def test_random_graphs_with_a_back_edge_are_reported_as_cycles():
    import random

    from framework import dag
    from framework.errors import CycleError

    rng = random.Random(11)
    for _ in range(100):
        n = rng.randint(2, 30)
        registry, _ = random_registry(rng, n, cycle=True)
        # Planning every step at once (a target requiring all) must find the loop.
        top = Step(id="g.all", run="m:f", requires=[f"g.s{i}" for i in range(n)])
        from framework.steps import RegisteredStep

        registry.add(RegisteredStep(top, "g"))
        with pytest.raises(CycleError) as caught:
            dag.plan(registry, "g.all")
        path = caught.value.message.split(": ", 1)[1].split(" (")[0].split(" -> ")
        assert path[0] == path[-1]
        for step, nxt in itertools.pairwise(path):
            assert nxt in registry.get(step).spec.requires
