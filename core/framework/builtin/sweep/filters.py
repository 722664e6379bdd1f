"""The ``--filter`` language: boolean expressions over a job's parameters, without `eval`."""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

from framework.errors import UsageError
from framework.steps import did_you_mean

_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class Filter:
    """A boolean expression over a job's parameters, evaluated without `eval`.

    Comparisons, ``and``/``or``/``not``, arithmetic, ``in`` with lists, numbers and
    strings; names are the sweep's parameters (``train.lr`` included).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise UsageError(
                f"--filter {text!r}: not an expression ({exc.msg})",
                hint="e.g. --filter \"nphotons >= 1e4 and view != 'sparse'\"",
            ) from None
        self.names: set[str] = set()
        self._check(self.tree)

    def _name(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            inner = self._name(node.value)
            return f"{inner}.{node.attr}" if inner else None
        return None

    def _check(self, node: ast.AST) -> None:
        name = self._name(node)
        if name is not None:
            self.names.add(name)
            return
        allowed = (
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.UAdd,
            ast.Compare,
            ast.BinOp,
            ast.Constant,
            ast.List,
            ast.Tuple,
            ast.Load,
            *_COMPARE,
            *_BINARY,
        )
        if not isinstance(node, allowed):
            raise UsageError(
                f"--filter {self.text!r}: {type(node).__name__} is not allowed",
                hint="use comparisons, and/or/not, arithmetic and lists",
            )
        for child in ast.iter_child_nodes(node):
            self._check(child)

    def __call__(self, values: Mapping[str, Any]) -> bool:
        return bool(self._eval(self.tree, values))

    def _eval(self, node: ast.AST, values: Mapping[str, Any]) -> Any:
        name = self._name(node)
        if name is not None:
            return values[name]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(e, values) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            parts = (self._eval(v, values) for v in node.values)
            return all(parts) if isinstance(node.op, ast.And) else any(parts)
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, values)
            if isinstance(node.op, ast.Not):
                return not operand
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](
                self._eval(node.left, values), self._eval(node.right, values)
            )
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, values)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self._eval(right_node, values)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise AssertionError(node)  # _check let through a node _eval does not know


def apply_filters(jobs: list[dict[str, Any]], filters: list[Filter]) -> list[dict[str, Any]]:
    """The jobs (name -> value, bundle fields included) every filter accepts."""
    if not jobs or not filters:
        return jobs
    known = set(jobs[0])
    for f in filters:
        unknown = sorted(f.names - known)
        if unknown:
            raise UsageError(
                f"--filter {f.text!r}: unknown name '{unknown[0]}'{did_you_mean(unknown[0], known)}",
                hint=f"names are the sweep's parameters: {', '.join(sorted(known))}",
            )
    kept = []
    for job in jobs:
        try:
            if all(f(job) for f in filters):
                kept.append(job)
        except TypeError as exc:
            raise UsageError(
                f"--filter: cannot evaluate for {json.dumps(job, default=str)}: {exc}",
                hint="compare numbers with numbers and text with quoted text",
            ) from None
    return kept
