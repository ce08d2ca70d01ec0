"""Whether a node's parentheses can go: what comes before it in the code.

An edit that replaces an expression by a name may drop the expression's
parentheses, `x * (a + b)` giving `x * a_b`, unless a keyword comes right
before them, as in `if(a + b):`, where `ifa_b` would be one name.
"""

from __future__ import annotations

import libcst as cst

from ._analysis import Analysis

__all__ = ["follows_separator"]

#: Fields that start where their parent starts, so what comes before the
#: parent comes before them too.
_LEFTMOST = {
    (cst.BinaryOperation, "left"),
    (cst.BooleanOperation, "left"),
    (cst.Comparison, "left"),
    (cst.Attribute, "value"),
    (cst.Subscript, "value"),
    (cst.Call, "func"),
    (cst.IfExp, "body"),
}
#: Fields that follow a keyword, with the whitespace between the two.
_AFTER_KEYWORD = {
    (cst.If, "test"): "whitespace_before_test",
    (cst.While, "test"): "whitespace_after_while",
    (cst.Return, "value"): "whitespace_after_return",
    (cst.IfExp, "test"): "whitespace_after_if",
    (cst.IfExp, "orelse"): "whitespace_after_else",
    (cst.Assert, "test"): "whitespace_after_assert",
    (cst.For, "iter"): "whitespace_after_in",
    (cst.CompFor, "iter"): "whitespace_after_in",
    (cst.CompIf, "test"): "whitespace_before_test",
    (cst.Await, "expression"): "whitespace_after_await",
    (cst.Yield, "value"): "whitespace_after_yield",
    (cst.Raise, "exc"): "whitespace_after_raise",
    (cst.From, "item"): "whitespace_after_from",
}
#: Fields whose code always follows a bracket, comma or operator symbol.
_AFTER_SYMBOL = {
    (cst.BinaryOperation, "right"),
    (cst.Arg, "value"),
    (cst.Element, "value"),
    (cst.StarredElement, "value"),
    (cst.DictElement, "key"),
    (cst.DictElement, "value"),
    (cst.Index, "value"),
    (cst.Slice, "lower"),
    (cst.Slice, "upper"),
    (cst.Slice, "step"),
    (cst.Assign, "value"),
    (cst.AnnAssign, "value"),
    (cst.AugAssign, "value"),
    (cst.Expr, "value"),
}
_KEYWORD_COMPARISONS = (cst.In, cst.NotIn, cst.Is, cst.IsNot)


def follows_separator(analysis: Analysis, address: str) -> bool:
    """Tell whether a bracket, symbol or space comes before the node at `address`.

    Where a keyword comes right before it instead (`if(x)`, `return(x)`),
    dropping the node's parentheses would join the two into one name.
    """
    while True:
        parent_address, _, step = address.rpartition(".")
        parent = analysis.site(parent_address)
        if parent is None:
            return False
        field = step.split("[")[0]
        node = parent.node
        if (type(node), field) in _LEFTMOST:
            if getattr(node, "lpar", ()):
                return True
            address = parent_address
            continue
        if (type(node), field) in _AFTER_SYMBOL:
            return True
        space = _space_before(node, field)
        return space is not None and _is_space(space)


def _space_before(node: cst.CSTNode, field: str) -> object | None:
    """Return the whitespace between a keyword and the child `field` of `node`."""
    attribute = _AFTER_KEYWORD.get((type(node), field))
    if attribute is not None:
        return getattr(node, attribute)
    operator = getattr(node, "operator", None)
    if isinstance(node, cst.UnaryOperation) and field == "expression":
        return operator.whitespace_after if isinstance(operator, cst.Not) else " "
    if isinstance(node, cst.BooleanOperation) and field == "right":
        return node.operator.whitespace_after
    if isinstance(node, cst.ComparisonTarget) and field == "comparator":
        if isinstance(node.operator, _KEYWORD_COMPARISONS):
            return node.operator.whitespace_after
        return " "
    return None


def _is_space(whitespace: object) -> bool:
    if isinstance(whitespace, cst.SimpleWhitespace):
        return bool(whitespace.value)
    # libcst writes a space for a default (`MaybeSentinel`) and a line break
    # for a parenthesized whitespace.
    return True
