"""Operator precedence of libcst expressions, for edits that wrap or move them.

Levels follow the operator precedence table of the Python language
reference, from the loosest binding (named expression) to atoms. An
expression in parentheses is an atom.
"""

from __future__ import annotations

import libcst as cst

__all__ = [
    "ATOM",
    "NOT",
    "OR",
    "UNARY",
    "at_least",
    "parenthesize",
    "precedence",
]

NAMED = 0
LAMBDA = 1
IFEXP = 2
OR = 3
AND = 4
NOT = 5
COMPARISON = 6
BITOR = 7
BITXOR = 8
BITAND = 9
SHIFT = 10
ARITH = 11
TERM = 12
UNARY = 13
POWER = 14
AWAIT = 15
ATOM = 16

_BINARY_LEVELS: dict[type[cst.CSTNode], int] = {
    cst.BitOr: BITOR,
    cst.BitXor: BITXOR,
    cst.BitAnd: BITAND,
    cst.LeftShift: SHIFT,
    cst.RightShift: SHIFT,
    cst.Add: ARITH,
    cst.Subtract: ARITH,
    cst.Multiply: TERM,
    cst.Divide: TERM,
    cst.FloorDivide: TERM,
    cst.Modulo: TERM,
    cst.MatrixMultiply: TERM,
    cst.Power: POWER,
}
_LEVELS: dict[type[cst.CSTNode], int] = {
    cst.NamedExpr: NAMED,
    cst.Yield: NAMED,
    # Without parentheses these two only appear where any expression fits.
    cst.Tuple: NAMED,
    cst.GeneratorExp: NAMED,
    cst.Lambda: LAMBDA,
    cst.IfExp: IFEXP,
    cst.Comparison: COMPARISON,
    cst.Await: AWAIT,
}


def precedence(node: cst.BaseExpression) -> int:
    """Return how tightly `node` binds, as one of the levels of this module."""
    if getattr(node, "lpar", ()):
        return ATOM
    if isinstance(node, cst.BinaryOperation):
        return _BINARY_LEVELS[type(node.operator)]
    if isinstance(node, cst.BooleanOperation):
        return AND if isinstance(node.operator, cst.And) else OR
    if isinstance(node, cst.UnaryOperation):
        return NOT if isinstance(node.operator, cst.Not) else UNARY
    return _LEVELS.get(type(node), ATOM)


def parenthesize(node: cst.BaseExpression) -> cst.BaseExpression:
    """Return `node` inside one more pair of parentheses."""
    return node.with_changes(
        lpar=(cst.LeftParen(), *node.lpar), rpar=(*node.rpar, cst.RightParen())
    )


def at_least(node: cst.BaseExpression, level: int) -> cst.BaseExpression:
    """Return `node`, in parentheses if it binds more loosely than `level`."""
    return node if precedence(node) >= level else parenthesize(node)
