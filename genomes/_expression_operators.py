"""Operators that change one binary, comparison or boolean operator symbol in place.

These edits keep the node and its children, so later edits addressed inside
the node still apply. The whitespace around a changed operator is kept, so
the rest of the line is untouched. Only the symbol changes, as in a mutation
tester's textual change, so the variant's code reads with Python's own
precedence: changing `*` to `+` in `a - b * c` gives `a - b + c`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from ._analysis import Analysis, NodeSite
from ._choice_operator import ChoiceOperator
from ._edit import Edit

__all__ = ["BinaryOperator", "BooleanOperator", "ComparisonOperator"]

_BINARY: dict[str, type[cst.CSTNode]] = {
    "+": cst.Add,
    "-": cst.Subtract,
    "*": cst.Multiply,
    "/": cst.Divide,
    "//": cst.FloorDivide,
    "%": cst.Modulo,
    "**": cst.Power,
    "&": cst.BitAnd,
    "|": cst.BitOr,
    "^": cst.BitXor,
    "<<": cst.LeftShift,
    ">>": cst.RightShift,
}
_AUGMENTED: dict[str, type[cst.CSTNode]] = {
    "+=": cst.AddAssign,
    "-=": cst.SubtractAssign,
    "*=": cst.MultiplyAssign,
    "/=": cst.DivideAssign,
    "//=": cst.FloorDivideAssign,
    "%=": cst.ModuloAssign,
    "**=": cst.PowerAssign,
    "&=": cst.BitAndAssign,
    "|=": cst.BitOrAssign,
    "^=": cst.BitXorAssign,
    "<<=": cst.LeftShiftAssign,
    ">>=": cst.RightShiftAssign,
}
#: Operators are only exchanged within a family, so that a change keeps the
#: kind of computation (`@` has no family and is left alone).
_BINARY_FAMILIES = (
    ("+", "-", "*", "/", "//", "%", "**"),
    ("&", "|", "^"),
    ("<<", ">>"),
)
_COMPARISON: dict[str, type[cst.CSTNode]] = {
    "<": cst.LessThan,
    "<=": cst.LessThanEqual,
    "==": cst.Equal,
    "!=": cst.NotEqual,
    ">": cst.GreaterThan,
    ">=": cst.GreaterThanEqual,
    "is": cst.Is,
    "is not": cst.IsNot,
    "in": cst.In,
    "not in": cst.NotIn,
}
_COMPARISON_FAMILIES = (
    ("<", "<=", "==", "!=", ">", ">="),
    ("is", "is not"),
    ("in", "not in"),
)
_BOOLEAN: dict[str, type[cst.CSTNode]] = {"and": cst.And, "or": cst.Or}
def _family(symbol: str, families: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    for family in families:
        if symbol in family:
            return family
    return ()


def _symbol(operator: cst.CSTNode, table: dict[str, type[cst.CSTNode]]) -> str | None:
    for symbol, operator_type in table.items():
        if type(operator) is operator_type:
            return symbol
    return None


def _replace_operator(old: Any, new_type: Any) -> cst.CSTNode:
    """Make an operator of `new_type` with the whitespace around `old`."""
    operator: cst.CSTNode = new_type(
        whitespace_before=old.whitespace_before, whitespace_after=old.whitespace_after
    )
    return operator


class BinaryOperator(ChoiceOperator):
    """Change a binary or augmented-assignment operator to another of its family.

    Applies to `a OP b` and `a OP= b` for the families `+ - * / // % **`,
    `& | ^` and `<< >>`. The argument is the new symbol, such as `-` or `-=`.
    """

    name = "binary_operator"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        # An earlier edit at this location may have wrapped it in `-(...)`.
        if not isinstance(current, (cst.BinaryOperation, cst.AugAssign)):
            return None
        table = _BINARY if isinstance(current, cst.BinaryOperation) else _AUGMENTED
        return current.with_changes(
            operator=_replace_operator(current.operator, table[edit.argument])
        )

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        node = site.node
        symbol = self._current(node)
        if symbol is None:
            return ()
        suffix = "=" if isinstance(node, cst.AugAssign) else ""
        family = _family(symbol.removesuffix(suffix), _BINARY_FAMILIES)
        return tuple(other + suffix for other in family if other + suffix != symbol)

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        return f"{self._current(site.node)} -> {argument}"

    @staticmethod
    def _current(node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.BinaryOperation):
            return _symbol(node.operator, _BINARY)
        if isinstance(node, cst.AugAssign):
            return _symbol(node.operator, _AUGMENTED)
        return None


class ComparisonOperator(ChoiceOperator):
    """Change one comparison operator to another of its family.

    Applies to each operator of a comparison (`a < b <= c` has two sites),
    for the families `< <= == != > >=`, `is / is not` and `in / not in`. The
    location is the `ComparisonTarget` and the argument is the new symbol.
    """

    name = "comparison_operator"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        if not isinstance(current, cst.ComparisonTarget):
            return None
        operator = _replace_operator(current.operator, _COMPARISON[edit.argument])
        return current.with_changes(operator=operator)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        node = site.node
        if not isinstance(node, cst.ComparisonTarget):
            return ()
        symbol = _symbol(node.operator, _COMPARISON)
        if symbol is None:
            return ()
        return tuple(
            other for other in _family(symbol, _COMPARISON_FAMILIES) if other != symbol
        )

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        assert isinstance(site.node, cst.ComparisonTarget)
        return f"{_symbol(site.node.operator, _COMPARISON)} -> {argument}"


class BooleanOperator(ChoiceOperator):
    """Change `and` to `or` or `or` to `and`.

    Applies to every boolean operation; `a and b or c` has two sites. The
    argument is the new keyword.
    """

    name = "boolean_operator"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        # An earlier edit at this location may have wrapped it in `not (...)`.
        if not isinstance(current, cst.BooleanOperation):
            return None
        operator = _replace_operator(current.operator, _BOOLEAN[edit.argument])
        return current.with_changes(operator=operator)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        if not isinstance(site.node, cst.BooleanOperation):
            return ()
        return ("or",) if isinstance(site.node.operator, cst.And) else ("and",)

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        return f"{'or' if argument == 'and' else 'and'} -> {argument}"
