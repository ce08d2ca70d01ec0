"""Helpers of the speed rewrites: loops, nodes under an address, purity, names.

A rewrite that moves an expression out of its place (to before a loop, or
to before a statement) must not change what the expression computes. These
helpers decide that conservatively, on the original tree:
- `is_pure` accepts only reads, arithmetic, comparisons, literals and calls
  of a fixed set of builtins and of `math` functions, so evaluating the
  expression earlier or once has no effect of its own;
- `untouched` checks that the code that runs in between only reads the
  expression's variables, inside pure expressions. That rules out
  assignments, loop targets and calls that may mutate them, such as
  `items.append(x)` next to `len(items)`.
Code in between can still change what the expression reads through other
names (aliases, globals, object state). The suite catches such variants, as
it catches every other edit.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import FunctionScope, GlobalScope, Scope

from ._address import is_within
from ._analysis import Analysis, NodeSite, StatementSite
from ._scopes import Names, count_names, names

__all__ = [
    "Loop",
    "callee_names",
    "expression_key",
    "is_pure",
    "loops",
    "module_binding",
    "name_base",
    "nodes_under",
    "rebound",
    "untouched",
]

#: Builtins whose result depends only on their arguments and that return a
#: new immutable value (or a number), so one call can stand for several.
#: NOTE: `all`, `any`, `max`, `min` and `sum` consume an iterator argument,
#: so one call on an iterator that the original read repeatedly differs.
PURE_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "chr",
        "divmod",
        "float",
        "frozenset",
        "hash",
        "int",
        "isinstance",
        "issubclass",
        "len",
        "max",
        "min",
        "ord",
        "pow",
        "repr",
        "round",
        "str",
        "sum",
        "tuple",
    }
)
#: A module whose functions are all pure, when imported under its own name.
PURE_MODULE = "math"
_PURE_TYPES = (
    cst.Name,
    cst.Attribute,
    cst.Subscript,
    cst.BinaryOperation,
    cst.UnaryOperation,
    cst.Comparison,
    cst.BooleanOperation,
    cst.Integer,
    cst.Float,
    cst.Imaginary,
    cst.SimpleString,
    cst.ConcatenatedString,
    cst.Tuple,
    cst.Call,
)
#: Parts of a generated local name taken from the expression it binds.
_NAME_PARTS = 3
#: Words for operators in detailed local names.
_OPERATOR_WORDS: dict[type[cst.CSTNode], str] = {
    cst.Add: "plus",
    cst.Subtract: "minus",
    cst.Multiply: "times",
    cst.Divide: "over",
    cst.FloorDivide: "div",
    cst.Modulo: "mod",
    cst.Power: "pow",
}
#: Nodes inside expressions that are not expressions themselves.
_EXPRESSION_PARTS = (
    cst.Arg,
    cst.ComparisonTarget,
    cst.DictElement,
    cst.Element,
    cst.Index,
    cst.Slice,
    cst.SubscriptElement,
)
#: Statement fields whose expression is only read.
_VALUE_FIELDS = {
    (cst.Assign, "value"),
    (cst.AnnAssign, "value"),
    (cst.AugAssign, "value"),
    (cst.Return, "value"),
    (cst.Expr, "value"),
    (cst.If, "test"),
    (cst.While, "test"),
    (cst.Assert, "test"),
}


@dataclass(frozen=True)
class Loop:
    """A `for` or `while` statement of the mutable region, directly in a function."""

    site: StatementSite
    scope: FunctionScope
    #: Addresses of the parts that run on every iteration: the body, and the
    #: target of a `for` or the test of a `while`.
    repeated: tuple[str, ...]


def loops(analysis: Analysis) -> tuple[Loop, ...]:
    """Return the loops of the mutable region that sit in a function scope."""
    found = analysis.cache.get("loops")
    if found is None:
        facts = names(analysis)
        found = []
        for site in analysis.statements:
            node = site.node
            scope = facts.scopes.get(node)
            if not isinstance(scope, FunctionScope):
                continue
            if isinstance(node, cst.For):
                repeated = ("target", "body")
            elif isinstance(node, cst.While):
                repeated = ("test", "body")
            else:
                continue
            parts = tuple(f"{site.address}.{part}" for part in repeated)
            found.append(Loop(site, scope, parts))
        found = tuple(found)
        analysis.cache["loops"] = found
    return found


def nodes_under(analysis: Analysis, address: str) -> Sequence[NodeSite]:
    """Return the sites of the mutable region inside the node at `address`, in order."""
    positions = analysis.cache.get("node positions")
    if positions is None:
        positions = {site.address: i for i, site in enumerate(analysis.nodes)}
        analysis.cache["node positions"] = positions
    start = positions.get(address)
    if start is None:
        return ()
    end = start + 1
    nodes = analysis.nodes
    while end < len(nodes) and is_within(nodes[end].address, address):
        end += 1
    return nodes[start + 1 : end]


def is_pure(facts: Names, node: cst.CSTNode, scope: Scope) -> bool:
    """Tell whether evaluating `node` has no effect and reads only plain values.

    Calls must name a builtin of `PURE_BUILTINS` or a function of `math`,
    neither rebound in `scope` or at module level.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.BaseExpression) and not isinstance(
            current, _PURE_TYPES
        ):
            return False
        if isinstance(current, cst.Call) and not _pure_callee(facts, current, scope):
            return False
        stack.extend(current.children)
    return True


def callee_names(node: cst.CSTNode) -> set[str]:
    """Return the names of the pure functions `node` calls, `math` included."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call):
            func = current.func
            if isinstance(func, cst.Name):
                found.add(func.value)
            elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
                found.add(func.value.value)
        stack.extend(current.children)
    return found


def untouched(
    analysis: Analysis,
    facts: Names,
    group: Sequence[NodeSite],
    region: Sequence[NodeSite],
    scope: Scope,
) -> bool:
    """Tell whether the code of `region` leaves the variables of `group` alone.

    `group` contains the copies of one expression inside `region`. Its
    variables are the names it reads, except the pure functions it calls.
    Every use of a variable in `region` outside the copies must be a read
    inside a pure expression whose value goes to an assignment, a `return`,
    a test or an expression statement.
    """
    first = group[0].node
    variables = set(count_names(first)) - callee_names(first)
    if not variables:
        return False
    copies = [site.address for site in group]
    for site in region:
        node = site.node
        if not isinstance(node, cst.Name) or node.value not in variables:
            continue
        if _is_label(site.address) or any(
            is_within(site.address, copy) for copy in copies
        ):
            continue
        if not _harmless_read(analysis, facts, site, scope):
            return False
    return True


def expression_key(analysis: Analysis, node: cst.CSTNode) -> str:
    """Return a text that equal expressions share, whatever their layout."""
    code = analysis.code(node)
    return ast.dump(ast.parse(f"({code})", mode="eval").body)


def name_base(node: cst.CSTNode, detailed: bool = False) -> str:
    """Make a local name from the first identifiers in `node`, such as `len_items`.

    A `detailed` name also spells out numbers, operators and string keys
    that are identifiers, as in `bins_minus_1` or `index_quote`, for when
    the plain one is taken.
    """
    parts: list[str] = []
    limit = _NAME_PARTS * 2 if detailed else _NAME_PARTS
    stack = [node]
    while stack and len(parts) < limit:
        current = stack.pop(0)
        if isinstance(current, cst.Name):
            parts.append(current.value.lower().strip("_"))
        elif detailed and isinstance(current, (cst.Integer, cst.Float)):
            parts.append(current.value.lower().replace(".", "_"))
        elif detailed and isinstance(current, cst.SimpleString):
            text = current.evaluated_value
            if isinstance(text, str) and text.isidentifier():
                parts.append(text.lower().strip("_"))
        elif detailed and type(current) in _OPERATOR_WORDS:
            parts.append(_OPERATOR_WORDS[type(current)])
        stack[:0] = current.children
    base = "_".join(part for part in parts if part) or "value"
    return base if base[0].isalpha() else "value_" + base


def module_binding(facts: Names, name: str) -> cst.CSTNode | None:
    """Return the node that binds `name` at module level, when exactly one does."""
    module = facts.module_scope
    if name not in module.assignments:
        return None
    bindings = list(module.assignments[name])
    return bindings[0].node if len(bindings) == 1 else None


def rebound(facts: Names, name: str, scope: Scope) -> bool:
    """Tell whether `scope` or an enclosing function scope binds `name`."""
    current: Scope | None = scope
    while current is not None and not isinstance(current, GlobalScope):
        if name in facts.assigned(current):
            return True
        parent = current.parent
        current = None if parent is current else parent
    return False


def _is_label(address: str) -> bool:
    """Tell whether the name at `address` is an attribute or keyword, not a variable."""
    return address.endswith((".attr", ".keyword"))


def _harmless_read(
    analysis: Analysis, facts: Names, site: NodeSite, scope: Scope
) -> bool:
    if not facts.is_load(site.node):
        return False
    address = site.address
    while True:
        parent_address, _, step = address.rpartition(".")
        parent = analysis.site(parent_address)
        if parent is None:
            return False
        node = parent.node
        field = step.split("[")[0]
        if isinstance(node, cst.BaseExpression):
            if not isinstance(node, (*_PURE_TYPES, cst.IfExp)):
                return False
            if isinstance(node, (cst.Attribute, cst.Subscript)) and not facts.is_load(
                node
            ):
                return False
            if isinstance(node, cst.Call) and not _pure_callee(facts, node, scope):
                return False
        elif not isinstance(node, _EXPRESSION_PARTS):
            return (type(node), field) in _VALUE_FIELDS
        address = parent_address


def _pure_callee(facts: Names, call: cst.Call, scope: Scope) -> bool:
    func = call.func
    if isinstance(func, cst.Name):
        return (
            func.value in PURE_BUILTINS
            and not rebound(facts, func.value, scope)
            and module_binding(facts, func.value) is None
            and func.value in facts.builtins_used
        )
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        root = func.value.value
        return (
            root == PURE_MODULE
            and not rebound(facts, root, scope)
            and isinstance(module_binding(facts, root), cst.Import)
        )
    return False
