"""Operators that remove, replace or insert `not`, `-`, `+` and `~`, and negate tests.

An inserted operator wraps the current node, so edits made inside it stay.
Its operand gets parentheses when it binds more loosely than the operator
(`-(a + b)`, `not (a or b)`), which keeps the meaning the edit names.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from ._analysis import Analysis, NodeSite, preview
from ._choice_operator import ChoiceOperator
from ._edit import Edit
from ._precedence import NOT, UNARY, at_least, parenthesize

__all__ = ["InsertUnary", "NegateCondition", "UnaryOperator"]

_UNARY: dict[str, type[cst.CSTNode]] = {
    "-": cst.Minus,
    "+": cst.Plus,
    "~": cst.BitInvert,
    "not": cst.Not,
}
_ARITHMETIC = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.MatrixMultiply,
    cst.Power,
)
_BITWISE = (cst.BitAnd, cst.BitOr, cst.BitXor, cst.LeftShift, cst.RightShift)
#: The argument of `unary_operator` that removes the operator.
_REMOVE = "remove"
#: Generates code for new nodes, which belong to no module yet.
_EMPTY_MODULE = cst.Module(body=())


class UnaryOperator(ChoiceOperator):
    """Remove a unary operator, or replace one of `-`, `+`, `~` by another.

    Applies to every unary operation: `not x` offers `x`; `-x` offers `x`,
    `+x` and `~x`. The argument is "remove" or the new symbol.
    """

    name = "unary_operator"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        # An earlier edit at this location may have wrapped or replaced it.
        if not isinstance(current, cst.UnaryOperation):
            return None
        if edit.argument == _REMOVE:
            # NOTE: code written without a space between a keyword and the
            # operator, as in `return-x`, gives `returnx`, a name.
            return _without_operator(current)
        operator = _UNARY[edit.argument](
            whitespace_after=current.operator.whitespace_after
        )
        return current.with_changes(operator=operator)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        node = site.node
        if not isinstance(node, cst.UnaryOperation):
            return ()
        symbol = _symbol(node)
        if symbol == "not":
            return (_REMOVE,)
        return (_REMOVE, *(other for other in ("-", "+", "~") if other != symbol))

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        assert isinstance(site.node, cst.UnaryOperation)
        symbol = _symbol(site.node)
        if argument == _REMOVE:
            return f"remove `{symbol}`"
        return f"{symbol} -> {argument}"


class InsertUnary(ChoiceOperator):
    """Insert `not`, `-` or `~` before an operand.

    Applies `not` to the operands of `and` and `or`, and to the tests of
    conditional expressions, comprehension `if`s and `assert`. Applies `-`
    to the operands of arithmetic operators, except the left one of `**`,
    because `-x ** y` means `-(x ** y)`. Applies `~` to the operands of
    bitwise operators. An operand that already has the operator is not
    offered it again. The argument is the inserted symbol.
    """

    name = "insert_unary"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        if not isinstance(current, cst.BaseExpression):
            return None
        # Code such as `if(a)and b` has no space between a keyword and an
        # operand that starts with a bracket or quote, and `ifnot` would be a
        # name, so such an operand gets `(not (a))`.
        first = _EMPTY_MODULE.code_for_node(current)[:1]
        tight = edit.argument == "not" and not (first.isalnum() or first == "_")
        return _wrap(edit.argument, current, tight)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        symbol = _operand_symbol(analysis, site.address)
        node = site.node
        if symbol is None or (
            isinstance(node, cst.UnaryOperation) and _symbol(node) == symbol
        ):
            return ()
        return (symbol,)

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        return f"insert `{argument}`"


class NegateCondition(ChoiceOperator):
    """Negate the test of an `if`, `elif` or `while` statement.

    Applies to every such statement of the mutable region: `if x < y:`
    becomes `if not x < y:`, and a test that already starts with `not`
    loses it. The argument is None.
    """

    name = "negate_condition"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        if not isinstance(current, (cst.If, cst.While)):
            return None
        test = current.test
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            negated = _without_operator(test)
        else:
            negated = _wrap("not", test, tight=False)
        if isinstance(current, cst.If):
            # `if(x):` has no space after the keyword, and `ifnot` would be a name.
            space = current.whitespace_before_test
            if not space.value:
                space = cst.SimpleWhitespace(" ")
            return current.with_changes(test=negated, whitespace_before_test=space)
        space = current.whitespace_after_while
        if not space.value:
            space = cst.SimpleWhitespace(" ")
        return current.with_changes(test=negated, whitespace_after_while=space)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        return (None,) if isinstance(site.node, (cst.If, cst.While)) else ()

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        assert isinstance(site.node, (cst.If, cst.While))
        keyword = "while" if isinstance(site.node, cst.While) else "if"
        return f"negate the {keyword} test `{_preview(analysis, site.node.test)}`"


def _symbol(node: cst.UnaryOperation) -> str:
    for symbol, operator_type in _UNARY.items():
        if type(node.operator) is operator_type:
            return symbol
    raise AssertionError(f"unknown unary operator {node.operator!r}")


def _without_operator(node: cst.UnaryOperation) -> cst.BaseExpression:
    """Return the operand of `node`, keeping the parentheses around `node`."""
    operand = node.expression
    if node.lpar and not operand.lpar:
        return operand.with_changes(lpar=node.lpar, rpar=node.rpar)
    return operand


def _wrap(symbol: str, node: cst.BaseExpression, tight: bool) -> cst.BaseExpression:
    """Put `symbol` before `node`; `tight` adds parentheses around the result."""
    is_not = symbol == "not"
    operand = at_least(node, NOT if is_not else UNARY)
    space = cst.SimpleWhitespace(" " if is_not else "")
    wrapped = cst.UnaryOperation(
        operator=_UNARY[symbol](whitespace_after=space), expression=operand
    )
    return parenthesize(wrapped) if tight else wrapped


def _operand_symbol(analysis: Analysis, address: str) -> str | None:
    """Return the unary operator that the operand at `address` may get, if any."""
    parent_address, _, field = address.rpartition(".")
    parent = analysis.site(parent_address) if parent_address else None
    if parent is None:
        return None
    node = parent.node
    if isinstance(node, cst.BooleanOperation) and field in ("left", "right"):
        return "not"
    if isinstance(node, (cst.IfExp, cst.CompIf, cst.Assert)) and field == "test":
        return "not"
    if isinstance(node, cst.BinaryOperation) and field in ("left", "right"):
        operator = node.operator
        if isinstance(operator, cst.Power) and field == "left":
            return None
        if isinstance(operator, _ARITHMETIC):
            return "-"
        if isinstance(operator, _BITWISE):
            return "~"
    return None


def _preview(analysis: Analysis, node: cst.CSTNode) -> str:
    return preview(analysis.code(node))
