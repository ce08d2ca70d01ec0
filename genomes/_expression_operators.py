"""Operators that change one operator symbol or integer literal in place.

These edits keep the node and its children, so later edits addressed inside
the node still apply. The whitespace around a changed operator is kept, so
the rest of the line is untouched.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import libcst as cst

from ._analysis import Analysis, NodeSite
from ._edit import Edit
from ._operator_base import BaseNodeOperator

__all__ = ["BinaryOperator", "ComparisonOperator", "IntegerConstant"]

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
#: Integer literals longer than this are not sites, and new values must stay
#: under `_MAX_VALUE_BITS` (about 3,600 digits), because Python by default
#: refuses to convert ints of more than 4,300 digits to text
#: (`sys.get_int_max_str_digits`). Doubling a 3,000 digit literal stays below.
_MAX_LITERAL_LENGTH = 3000
_MAX_VALUE_BITS = 12_000
_PREFIX_FORMATS = {"0x": "x", "0o": "o", "0b": "b"}


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


class _NodeOperator(BaseNodeOperator):
    """An operator with a list of choices for each node it accepts."""

    @abc.abstractmethod
    def _choices(self, node: cst.CSTNode) -> tuple[Any, ...]:
        """Return the arguments offered for `node` (empty when it is not a site)."""

    @abc.abstractmethod
    def _accepts(self, node: cst.CSTNode, argument: Any) -> bool:
        """Tell whether `argument` is a valid change of `node`."""

    @abc.abstractmethod
    def _summary(self, node: cst.CSTNode, argument: Any) -> str:
        """Describe the change for people, e.g. `+ -> -`."""

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        site = self._by_address(analysis).get(edit.location)
        if site is None or not self._accepts(site.node, edit.argument):
            return None
        return (edit.location,)

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        locations = []
        for site in self._by_address(analysis).values():
            choices = self._choices(site.node)
            locations.append(((site, choices), len(choices)))
        return locations

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site, choices = location
        argument = choices[offset]
        summary = self._summary(site.node, argument)
        return Edit(self.name, site.address, argument, line=site.line, summary=summary)

    def _by_address(self, analysis: Analysis) -> dict[str, NodeSite]:
        key = ("nodes", self.name)
        sites = analysis.cache.get(key)
        if sites is None:
            sites = {
                site.address: site
                for site in analysis.nodes
                if self._choices(site.node)
            }
            analysis.cache[key] = sites
        return sites


class BinaryOperator(_NodeOperator):
    """Change a binary or augmented-assignment operator to another of its family.

    Applies to `a OP b` and `a OP= b` for the families `+ - * / // % **`,
    `& | ^` and `<< >>`. The argument is the new symbol, such as `-` or `-=`.
    """

    name = "binary_operator"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode:
        assert isinstance(current, (cst.BinaryOperation, cst.AugAssign))
        table = _BINARY if isinstance(current, cst.BinaryOperation) else _AUGMENTED
        return current.with_changes(
            operator=_replace_operator(current.operator, table[edit.argument])
        )

    def _choices(self, node: cst.CSTNode) -> tuple[Any, ...]:
        symbol = self._current(node)
        if symbol is None:
            return ()
        suffix = "=" if isinstance(node, cst.AugAssign) else ""
        family = _family(symbol.removesuffix(suffix), _BINARY_FAMILIES)
        return tuple(other + suffix for other in family if other + suffix != symbol)

    def _accepts(self, node: cst.CSTNode, argument: Any) -> bool:
        return argument in self._choices(node)

    def _summary(self, node: cst.CSTNode, argument: Any) -> str:
        return f"{self._current(node)} -> {argument}"

    @staticmethod
    def _current(node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.BinaryOperation):
            return _symbol(node.operator, _BINARY)
        if isinstance(node, cst.AugAssign):
            return _symbol(node.operator, _AUGMENTED)
        return None


class ComparisonOperator(_NodeOperator):
    """Change one comparison operator to another of its family.

    Applies to each operator of a comparison (`a < b <= c` has two sites),
    for the families `< <= == != > >=`, `is / is not` and `in / not in`. The
    location is the `ComparisonTarget` and the argument is the new symbol.
    """

    name = "comparison_operator"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode:
        assert isinstance(current, cst.ComparisonTarget)
        operator = _replace_operator(current.operator, _COMPARISON[edit.argument])
        return current.with_changes(operator=operator)

    def _choices(self, node: cst.CSTNode) -> tuple[Any, ...]:
        if not isinstance(node, cst.ComparisonTarget):
            return ()
        symbol = _symbol(node.operator, _COMPARISON)
        if symbol is None:
            return ()
        return tuple(
            other for other in _family(symbol, _COMPARISON_FAMILIES) if other != symbol
        )

    def _accepts(self, node: cst.CSTNode, argument: Any) -> bool:
        return argument in self._choices(node)

    def _summary(self, node: cst.CSTNode, argument: Any) -> str:
        assert isinstance(node, cst.ComparisonTarget)
        return f"{_symbol(node.operator, _COMPARISON)} -> {argument}"


class IntegerConstant(_NodeOperator):
    """Change an integer literal to its value +1, -1, 0, *2 or //2.

    Applies to every integer literal (a negative number is a unary minus
    around a literal, so `-3` offers `-4`, `-2`, `-0`, `-6` and `-1`).
    Choices equal to the current value are left out. The argument is the new
    value. Hex, octal and binary literals keep their prefix, and a negative
    result is written in parentheses, `(-1)`, so that precedence is kept.
    """

    name = "integer_constant"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode:
        # A literal has no children, so the change starts from the original:
        # an earlier edit at this location may have made `current` a `(-1)`.
        assert isinstance(original, cst.Integer)
        value: int = edit.argument
        text = _integer_text(abs(value), original.value)
        if value >= 0:
            return original.with_changes(value=text)
        return cst.UnaryOperation(
            operator=cst.Minus(),
            expression=cst.Integer(text),
            lpar=original.lpar or (cst.LeftParen(),),
            rpar=original.rpar or (cst.RightParen(),),
        )

    def _choices(self, node: cst.CSTNode) -> tuple[Any, ...]:
        value = _literal_value(node)
        if value is None:
            return ()
        choices = (value + 1, value - 1, 0, value * 2, value // 2)
        return tuple(choice for choice in dict.fromkeys(choices) if choice != value)

    def _accepts(self, node: cst.CSTNode, argument: Any) -> bool:
        return (
            _literal_value(node) is not None
            and isinstance(argument, int)
            and not isinstance(argument, bool)
            and argument.bit_length() <= _MAX_VALUE_BITS
        )

    def _summary(self, node: cst.CSTNode, argument: Any) -> str:
        assert isinstance(node, cst.Integer)
        return f"{node.value} -> {argument}"


def _literal_value(node: cst.CSTNode) -> int | None:
    if not isinstance(node, cst.Integer) or len(node.value) > _MAX_LITERAL_LENGTH:
        return None
    try:
        return int(node.value, 0)
    except ValueError:
        return None


def _integer_text(value: int, original: str) -> str:
    """Write non-negative `value` in the base of the literal `original`."""
    base = _PREFIX_FORMATS.get(original[:2].lower())
    if base is None:
        return str(value)
    digits = format(value, base)
    if any(character.isupper() for character in original[2:]):
        digits = digits.upper()
    return original[:2] + digits
