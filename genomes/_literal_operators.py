"""Operators that change one literal in place: integers, floats, `True` and `False`.

A negative result is written as a unary minus in parentheses, `(-1)`, so
that it keeps the precedence of the literal it replaces wherever that sits.
"""

from __future__ import annotations

import math
from typing import Any

import libcst as cst

from ._analysis import Analysis, NodeSite
from ._choice_operator import ChoiceOperator
from ._edit import Edit

__all__ = ["BooleanConstant", "FloatConstant", "IntegerConstant"]

#: Integer literals longer than this are not sites, and new values must stay
#: under `_MAX_VALUE_BITS` (about 3,600 digits), because Python by default
#: refuses to convert ints of more than 4,300 digits to text
#: (`sys.get_int_max_str_digits`). Doubling a 3,000 digit literal stays below.
_MAX_LITERAL_LENGTH = 3000
_MAX_VALUE_BITS = 12_000
_PREFIX_FORMATS = {"0x": "x", "0o": "o", "0b": "b"}


class IntegerConstant(ChoiceOperator):
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

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        value = _literal_value(site.node)
        if value is None:
            return ()
        choices = (value + 1, value - 1, 0, value * 2, value // 2)
        return tuple(choice for choice in dict.fromkeys(choices) if choice != value)

    def _accepts(
        self,
        analysis: Analysis,
        site: NodeSite,
        choices: tuple[Any, ...],
        argument: Any,
    ) -> bool:
        # Any integer of bounded size is a valid change, not only the choices.
        return (
            isinstance(argument, int)
            and not isinstance(argument, bool)
            and argument.bit_length() <= _MAX_VALUE_BITS
        )

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        assert isinstance(site.node, cst.Integer)
        return f"{site.node.value} -> {argument}"


class FloatConstant(ChoiceOperator):
    """Change a float literal to its value +1, -1, 0, *2 or /2.

    Applies to every float literal such as `0.5` or `1e-3` (imaginary
    literals are left alone). Choices equal to the current value, or that
    overflow to infinity, are left out. The argument is the new value,
    written back as `repr` writes it.
    """

    name = "float_constant"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode:
        assert isinstance(original, cst.Float)
        value: float = edit.argument
        return _signed(cst.Float(repr(abs(value))), value < 0, original)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        if not isinstance(site.node, cst.Float):
            return ()
        value = float(site.node.value)
        choices = (value + 1, value - 1, 0.0, value * 2, value / 2)
        return tuple(
            choice
            for choice in dict.fromkeys(choices)
            if choice != value and math.isfinite(choice)
        )

    def _accepts(
        self,
        analysis: Analysis,
        site: NodeSite,
        choices: tuple[Any, ...],
        argument: Any,
    ) -> bool:
        return isinstance(argument, float) and math.isfinite(argument)

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        assert isinstance(site.node, cst.Float)
        return f"{site.node.value} -> {argument!r}"


class BooleanConstant(ChoiceOperator):
    """Change `True` to `False` or `False` to `True`.

    Applies to every `True` and `False` in the mutable region. The argument
    is the new value.
    """

    name = "boolean_constant"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        # An earlier edit at this location may have wrapped it in `not ...`.
        if not isinstance(current, cst.Name):
            return None
        return current.with_changes(value=str(edit.argument))

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        node = site.node
        if isinstance(node, cst.Name) and node.value in ("True", "False"):
            return (node.value == "False",)
        return ()

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        return f"{not argument} -> {argument}"


def _signed(
    literal: cst.Float, negative: bool, original: cst.Float
) -> cst.BaseExpression:
    """Return `literal`, or `(-literal)` if `negative`, in `original`'s parentheses."""
    if not negative:
        return literal.with_changes(lpar=original.lpar, rpar=original.rpar)
    return cst.UnaryOperation(
        operator=cst.Minus(),
        expression=literal,
        lpar=original.lpar or (cst.LeftParen(),),
        rpar=original.rpar or (cst.RightParen(),),
    )


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
