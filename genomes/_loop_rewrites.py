"""Speed rewrites of loops that build a list.

- `loop_to_comprehension` turns
  `result = []` followed by `for x in xs: result.append(f(x))` (optionally
  with one `if` around the append) into `result = [f(x) for x in xs]`.
- `list_to_set` turns a list that a loop only appends to and tests with
  `in` / `not in` into a set: `seen = []` becomes `seen = set()` and
  `seen.append(x)` becomes `seen.add(x)`, so each test takes constant time.

Both are checked on the original tree and only offered where the rewrite
keeps the meaning in ordinary code. For a comprehension the list is not
read inside the loop, and the loop's variables are not read outside it,
because a comprehension does not leave them bound. For a set the list is
used nowhere but in the appends and the tests. Elements of a set must be
hashable, which the suite checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import ExpressionContext

from ._address import child_address
from ._analysis import Analysis, StatementSite
from ._edit import Edit
from ._operator_base import BaseOperator, BaseStatementOperator, BlockSlots
from ._precedence import OR, at_least, parenthesize
from ._scopes import RESERVED, Names, count_names, names
from ._speed_support import Loop, loops, nodes_under, rebound

__all__ = ["ListToSet", "LoopToComprehension"]


@dataclass(frozen=True)
class _Comprehension:
    loop: StatementSite
    init: StatementSite
    name: str
    element: cst.BaseExpression
    condition: cst.BaseExpression | None


@dataclass(frozen=True)
class _SetRewrite:
    loop: StatementSite
    init: StatementSite
    name: str
    #: The `[]` of the init, then the `append` of each call to change.
    rewrites: tuple[str, ...]


class LoopToComprehension(BaseStatementOperator):
    """Turn `result = []` and a loop that only appends to it into a list comprehension.

    Applies to a `for` loop without `else` in a function, directly after
    `NAME = []` in the same block. Its body must be `NAME.append(value)`,
    alone or inside one `if` without `else`. The value, the condition and
    the iterable must not mention NAME, and the function must not read the
    loop's variables elsewhere. Like a replacement, the edit drops earlier
    edits inside the two statements. The argument is None.
    """

    name = "loop_to_comprehension"
    level = "speed"

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        found = _comprehensions(analysis).get(edit.location)
        if found is None or edit.argument is not None:
            return None
        return (found.init.address, found.loop.address)

    def removed(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        found = _comprehensions(analysis)[edit.location]
        return (found.init.address, found.loop.address)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        found = _comprehensions(analysis)[edit.location]
        loop = found.loop.node
        assert isinstance(loop, cst.For)
        condition = []
        if found.condition is not None:
            condition = [cst.CompIf(test=at_least(found.condition, OR))]
        element = found.element
        if isinstance(element, cst.GeneratorExp) and not element.lpar:
            element = parenthesize(element)
        comprehension = cst.ListComp(
            elt=element,
            for_in=cst.CompFor(
                target=loop.target, iter=at_least(loop.iter, OR), ifs=condition
            ),
        )

        loop_position = slots.position(found.loop.index)
        loop_now = slots.entries.pop(loop_position)[1]
        init_position = slots.position(found.init.index)
        init_now = slots.entries[init_position][1]
        assert isinstance(init_now, cst.SimpleStatementLine)
        small = init_now.body[0].with_changes(value=comprehension)
        # The comments above the loop now sit above the comprehension.
        leading = (*init_now.leading_lines, *loop_now.leading_lines)
        statement = init_now.with_changes(body=[small], leading_lines=leading)
        slots.entries[init_position] = (None, statement)

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        return [(found, 1) for found in _comprehensions(analysis).values()]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        found: _Comprehension = location
        summary = f"build `{found.name}` with a list comprehension"
        return Edit(
            self.name, found.loop.address, None, line=found.loop.line, summary=summary
        )


class ListToSet(BaseOperator):
    """Make a list that a loop appends to and tests with `in` a set.

    Applies to a loop in a function and a name bound to `[]` earlier in the
    same block. In the whole function the name may only appear there, in
    `NAME.append(x)` statements inside the loop, and in `in NAME` or `not in
    NAME` tests inside the loop, with at least one of each. The argument is
    the name.
    """

    name = "list_to_set"
    level = "speed"

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        if not isinstance(edit.argument, str):
            return None
        found = _set_rewrites(analysis).get((edit.location, edit.argument))
        if found is None:
            return None
        return (found.init.address, found.loop.address)

    def node_addresses(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        return _set_rewrites(analysis)[edit.location, edit.argument].rewrites

    def rewrite_node(
        self,
        edit: Edit,
        analysis: Analysis,
        address: str,
        original: cst.CSTNode,
        current: cst.CSTNode,
    ) -> cst.CSTNode:
        if current is not original:
            return current
        if isinstance(original, cst.List):
            return cst.Call(cst.Name("set"), lpar=original.lpar, rpar=original.rpar)
        assert isinstance(original, cst.Name)
        return original.with_changes(value="add")

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        return [(found, 1) for found in _set_rewrites(analysis).values()]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        found: _SetRewrite = location
        summary = f"make `{found.name}` a set (`{found.name}.append` -> `.add`)"
        return Edit(
            self.name,
            found.loop.address,
            found.name,
            line=found.loop.line,
            summary=summary,
        )


def _comprehensions(analysis: Analysis) -> dict[str, _Comprehension]:
    found = analysis.cache.get("comprehensions")
    if found is None:
        facts = names(analysis)
        found = {}
        for loop in loops(analysis):
            comprehension = _comprehension(analysis, facts, loop)
            if comprehension is not None:
                found[loop.site.address] = comprehension
        analysis.cache["comprehensions"] = found
    return found


def _comprehension(
    analysis: Analysis, facts: Names, loop: Loop
) -> _Comprehension | None:
    node = loop.site.node
    if not isinstance(node, cst.For) or node.asynchronous or node.orelse:
        return None
    init = _previous(analysis, loop.site)
    name = _list_init(init, annotated=True) if init else None
    body = _only_statement(node.body)
    condition = None
    if isinstance(body, cst.If) and body.orelse is None:
        condition, body = body.test, _only_statement(body.body)
    element = _appended(body, name) if name else None
    if init is None or name is None or element is None:
        return None

    parts = [element, node.iter, node.target] + ([condition] if condition else [])
    if any(name in count_names(part) for part in parts):
        return None
    if _binds_or_yields([element] + ([condition] if condition else [])):
        return None
    if _read_outside(facts, loop, set(count_names(node.target))):
        return None
    return _Comprehension(loop.site, init, name, element, condition)


def _set_rewrites(analysis: Analysis) -> dict[tuple[str, str], _SetRewrite]:
    found = analysis.cache.get("set rewrites")
    if found is None:
        facts = names(analysis)
        found = {}
        for loop in loops(analysis):
            for rewrite in _loop_sets(analysis, facts, loop):
                found[loop.site.address, rewrite.name] = rewrite
        analysis.cache["set rewrites"] = found
    return found


def _loop_sets(analysis: Analysis, facts: Names, loop: Loop) -> list[_SetRewrite]:
    if rebound(facts, "set", loop.scope) or "set" in facts.module_scope.assignments:
        return []
    tests: dict[str, int] = {}
    appends: dict[str, list[str]] = {}
    for site in nodes_under(analysis, loop.site.address):
        node = site.node
        if isinstance(node, cst.ComparisonTarget) and isinstance(
            node.operator, (cst.In, cst.NotIn)
        ):
            comparator = node.comparator
            if isinstance(comparator, cst.Name) and not comparator.lpar:
                tests[comparator.value] = tests.get(comparator.value, 0) + 1
        name = _append_statement_target(analysis, site.address, node)
        if name is not None:
            appends.setdefault(name, []).append(site.address + ".attr")

    candidates = sorted(tests.keys() & appends.keys())
    if not candidates:
        return []
    counts = count_names(loop.scope.node)
    rewrites = []
    for name in candidates:
        if name in RESERVED or counts[name] != 1 + tests[name] + len(appends[name]):
            continue
        init = _earlier_init(analysis, loop.site, name)
        if init is None:
            continue
        value = child_address(child_address(init.address, "body", 0), "value")
        rewrites.append(_SetRewrite(loop.site, init, name, (value, *appends[name])))
    return rewrites


def _previous(analysis: Analysis, site: StatementSite) -> StatementSite | None:
    if site.index == 0:
        return None
    address = child_address(site.block, "body", site.index - 1)
    return analysis.statement_by_address.get(address)


def _earlier_init(
    analysis: Analysis, loop: StatementSite, name: str
) -> StatementSite | None:
    for index in range(loop.index - 1, -1, -1):
        address = child_address(loop.block, "body", index)
        statement = analysis.statement_by_address.get(address)
        if statement is not None and _list_init(statement, annotated=False) == name:
            return statement
    return None


def _list_init(site: StatementSite, annotated: bool) -> str | None:
    """Return NAME when `site` is `NAME = []` (or `NAME: T = []` if `annotated`)."""
    node = site.node
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    small = node.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif annotated and isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    empty = isinstance(value, cst.List) and not value.elements
    return target.value if isinstance(target, cst.Name) and empty else None


def _only_statement(body: cst.BaseSuite) -> cst.CSTNode | None:
    if isinstance(body, cst.IndentedBlock):
        return body.body[0] if len(body.body) == 1 else None
    assert isinstance(body, cst.SimpleStatementSuite)
    return body.body[0] if len(body.body) == 1 else None


def _appended(statement: cst.CSTNode | None, name: str) -> cst.BaseExpression | None:
    """Return `value` when `statement` is `name.append(value)` and nothing else."""
    if isinstance(statement, cst.SimpleStatementLine):
        if len(statement.body) != 1:
            return None
        statement = statement.body[0]
    if not isinstance(statement, cst.Expr) or not isinstance(statement.value, cst.Call):
        return None
    call = statement.value
    func = call.func
    if not (
        isinstance(func, cst.Attribute)
        and func.attr.value == "append"
        and isinstance(func.value, cst.Name)
        and func.value.value == name
        and len(call.args) == 1
    ):
        return None
    arg = call.args[0]
    return arg.value if arg.keyword is None and not arg.star else None


def _append_statement_target(
    analysis: Analysis, address: str, node: cst.CSTNode
) -> str | None:
    """Return NAME when `node` is the `NAME.append` of a statement `NAME.append(x)`."""
    if not (
        isinstance(node, cst.Attribute)
        and node.attr.value == "append"
        and isinstance(node.value, cst.Name)
        and address.endswith(".func")
    ):
        return None
    call_address = address.removesuffix(".func")
    expression_address, _, field = call_address.rpartition(".")
    call = analysis.site(call_address)
    statement = analysis.site(expression_address)
    if call is None or statement is None or field != "value":
        return None
    if not isinstance(statement.node, cst.Expr) or not isinstance(call.node, cst.Call):
        return None
    if len(call.node.args) != 1 or call.node.args[0].keyword or call.node.args[0].star:
        return None
    return node.value.value


def _binds_or_yields(parts: list[cst.BaseExpression]) -> bool:
    """Tell whether a part contains `yield` or `:=`, which a comprehension rejects."""
    finder = _Finder()
    for part in parts:
        part.visit(finder)
    return finder.found


def _read_outside(facts: Names, loop: Loop, targets: set[str]) -> bool:
    """Tell whether the function reads one of `targets` outside the loop."""
    finder = _ReadFinder(facts, loop.site.node, targets)
    loop.scope.node.visit(finder)
    return finder.found


class _Finder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = True

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.found = True


class _ReadFinder(cst.CSTVisitor):
    def __init__(self, facts: Names, loop: cst.CSTNode, targets: set[str]) -> None:
        self.facts = facts
        self.loop = loop
        self.targets = targets
        self.found = False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.loop:
            return False
        if (
            isinstance(node, cst.Name)
            and node.value in self.targets
            and self.facts.contexts.get(node) is ExpressionContext.LOAD
        ):
            self.found = True
        return True
