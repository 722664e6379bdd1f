"""Planning a large graph: framework.dag.plan on a generated 10,000-step DAG.

The registry is built directly from Step objects (no plugin machinery). Every step
requires one to four random earlier steps from a window behind it, and a final step
requires every step nothing else depends on, so the plan covers the whole graph. The
in-process baseline is graphlib.TopologicalSorter alone on the same edges.
"""

from __future__ import annotations

import graphlib
import random

from common import command_line, median, parser, report, timed
from framework import dag
from framework.steps import RegisteredStep, Step, StepRegistry

TARGET_S = 0.1
WINDOW = 200


def generate(n: int, seed: int) -> tuple[StepRegistry, dict[str, list[str]], str]:
    """A registry of `n` steps, the same graph as id -> requires, and the target id."""
    rng = random.Random(seed)
    ids = [f"g.s{i:05d}" for i in range(n - 1)]
    graph: dict[str, list[str]] = {}
    for i, step_id in enumerate(ids):
        earlier = ids[max(0, i - WINDOW) : i]
        graph[step_id] = rng.sample(earlier, k=min(len(earlier), rng.randint(1, 4)))
    required = {req for reqs in graph.values() for req in reqs}
    target = "g.final"
    graph[target] = [s for s in ids if s not in required]
    registry = StepRegistry()
    for step_id, requires in graph.items():
        registry.add(RegisteredStep(Step(id=step_id, run="bench_dag:noop", requires=requires), "g"))
    return registry, graph, target


def check_order(order: list[str], graph: dict[str, list[str]]) -> None:
    position = {step_id: i for i, step_id in enumerate(order)}
    assert len(order) == len(graph), f"plan has {len(order)} of {len(graph)} steps"
    for step_id, requires in graph.items():
        assert all(position[r] < position[step_id] for r in requires), (
            f"{step_id} planned before a requirement"
        )


def graphlib_order(graph: dict[str, list[str]]) -> list[str]:
    return list(graphlib.TopologicalSorter(graph).static_order())


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000, help="steps in the graph (default 10000)")
    p.add_argument(
        "--repeat", type=int, default=7, help="timed repetitions of each side (default 7)"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    registry, graph, target = generate(args.steps, args.seed)
    edges = sum(len(r) for r in graph.values())
    print(f"graph: {len(graph)} steps, {edges} requires edges, target {target}")
    check_order(dag.plan(registry, target), graph)
    check_order(graphlib_order(graph), graph)

    plan_s, base_s = [], []
    for _ in range(args.repeat):  # interleaved, so drift hits both
        plan_s.append(timed(lambda: dag.plan(registry, target)))
        base_s.append(timed(lambda: graphlib_order(graph)))
    t_plan, t_base = median(plan_s), median(base_s)
    ratio = t_plan / t_base
    print(
        f"framework.dag.plan: median {t_plan * 1e3:.1f} ms (min {min(plan_s) * 1e3:.1f}) over {args.repeat} runs"
    )
    print(
        f"graphlib.TopologicalSorter.static_order alone: median {t_base * 1e3:.1f} ms (min {min(base_s) * 1e3:.1f})"
    )
    print(f"ratio: {ratio:.2f}x")

    return report(
        args,
        name=f"DAG: plan a {len(graph):,}-step graph",
        figure=f"{t_plan * 1e3:.1f} ms ({ratio:.1f}x graphlib alone, {t_base * 1e3:.1f} ms)",
        target=f"< {TARGET_S} s",
        met=t_plan < TARGET_S,
        command=command_line("dag.py", ["--steps", str(args.steps), "--repeat", str(args.repeat)]),
        details={
            "plan_s": plan_s,
            "graphlib_s": base_s,
            "ratio": ratio,
            "steps": len(graph),
            "edges": edges,
        },
    )


if __name__ == "__main__":
    main()
