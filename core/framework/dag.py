"""Resolve a target step to the ordered plan of itself and everything upstream."""

from __future__ import annotations

import graphlib

from framework.errors import CycleError
from framework.steps import StepRegistry


def upstream(registry: StepRegistry, target: str) -> set[str]:
    """`target` and every step it (transitively) requires."""
    seen: set[str] = set()
    stack = [target]
    while stack:
        step_id = stack.pop()
        if step_id not in seen:
            seen.add(step_id)
            stack.extend(registry.get(step_id).spec.requires)
    return seen


def plan(registry: StepRegistry, target: str) -> list[str]:
    """Step ids in dependency order, ending with `target`; ties broken by id."""
    registry.validate_requires()
    graph = {step_id: registry.get(step_id).spec.requires for step_id in upstream(registry, target)}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists the cycle from a node back to itself, against the edge direction.
        path = " -> ".join(reversed(exc.args[1]))
        raise CycleError(
            f"steps form a cycle: {path} (each requires the next)",
            hint="remove one of these requires edges",
        ) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def downstream_of(registry: StepRegistry, order: list[str], start: str) -> list[str]:
    """The steps of `order` that are `start` or depend on it (for --from)."""
    affected = {start}
    for step_id in order:
        if any(req in affected for req in registry.get(step_id).spec.requires):
            affected.add(step_id)
    return [s for s in order if s in affected]


def render_text(registry: StepRegistry, order: list[str]) -> str:
    lines = []
    for i, step_id in enumerate(order, 1):
        reqs = registry.get(step_id).spec.requires
        after = f"  <- {', '.join(reqs)}" if reqs else ""
        lines.append(f"{i:>3}. {step_id}{after}")
    return "\n".join(lines)


def render_mermaid(registry: StepRegistry, order: list[str]) -> str:
    def node(step_id: str) -> str:
        return step_id.replace(".", "__").replace("-", "_")

    lines = ["flowchart TD"] + [f'    {node(step_id)}["{step_id}"]' for step_id in order]
    edges = [(req, step_id) for step_id in order for req in registry.get(step_id).spec.requires]
    return "\n".join(lines + [f"    {node(a)} --> {node(b)}" for a, b in edges])
