"""Operators that replace a read expression by a compatible one, or swap arguments.

`replace_expression` changes a name, an attribute access or a call that the
mutable region reads into another expression of the same kind:
- a name into another name visible in the site's scope (see `_scopes`),
- an attribute access or a call into a copy of one read anywhere in the
  module whose free names are all visible at the site.
Copies come from the original tree and are deduplicated by their code, so
a site is never offered its own code. Calls that contain `await`, `yield`,
an asynchronous comprehension or a named expression are not copied, because
they only compile in some scopes or would bind names.

Cost: one scope analysis, one walk of the module for the copies, and for
each scope with sites one filter of the copies by free names.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import Scope

from ._address import child_address, node_fields
from ._analysis import Analysis, NodeSite, preview
from ._choice_operator import ChoiceOperator
from ._edit import Edit
from ._operator_base import BaseOperator
from ._scopes import RESERVED, Names, names

__all__ = ["ReplaceExpression", "SwapArguments"]

_KINDS: dict[type[cst.CSTNode], str] = {
    cst.Name: "name",
    cst.Attribute: "attribute",
    cst.Call: "call",
}


@dataclass(frozen=True)
class _Copy:
    """An attribute access or call of the module that sites may be replaced by."""

    address: str
    node: cst.BaseExpression
    kind: str
    code: str
    free: frozenset[str]


@dataclass(frozen=True)
class _Copies:
    entries: tuple[_Copy, ...]
    index: dict[str, int]
    by_code: dict[tuple[str, str], int]


class ReplaceExpression(BaseOperator):
    """Replace a name, attribute access or call that is read by another of its kind.

    Applies to every name, attribute access and call of the mutable region
    that is read (not assigned or deleted), outside `match` patterns. A name
    gets another name visible in its scope, and the argument is that name.
    An attribute access or call gets a copy of another one read in the
    module whose names are visible there, and the argument is its address.
    """

    name = "replace_expression"
    level = "expression"
    removes_location = True

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        entry = _sites(analysis).get(edit.location)
        if entry is None or not isinstance(edit.argument, str):
            return None
        site, kind, scope = entry
        facts = names(analysis)
        if kind == "name":
            argument = edit.argument
            valid = (
                argument != site.node.value
                and argument not in RESERVED
                and argument in facts.visible(scope)
            )
            return (edit.location,) if valid else None
        copies = _copies(analysis)
        index = copies.index.get(edit.argument)
        if index is None or copies.entries[index].kind != kind:
            return None
        own = copies.by_code.get((kind, analysis.code(site.node)))
        pool = _pool(analysis, kind, scope)
        position = bisect.bisect_left(pool, index)
        if index == own or position == len(pool) or pool[position] != index:
            return None
        return (edit.location,)

    def node_addresses(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        return (edit.location,)

    def rewrite_node(
        self,
        edit: Edit,
        analysis: Analysis,
        address: str,
        original: cst.CSTNode,
        current: cst.CSTNode,
    ) -> cst.CSTNode | None:
        if not isinstance(current, cst.BaseExpression):
            return None
        if isinstance(original, cst.Name):
            new: cst.BaseExpression = cst.Name(edit.argument)
        else:
            copies = _copies(analysis)
            new = copies.entries[copies.index[edit.argument]].node
        # A copy keeps its own parentheses where the site has none, because
        # they may hold an attribute access that spans lines.
        if current.lpar:
            return new.with_changes(lpar=current.lpar, rpar=current.rpar)
        return new

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        facts = names(analysis)
        locations = []
        for site, kind, scope in _sites(analysis).values():
            if kind == "name":
                pool = _names_in(facts, scope)
                own = site.node.value
                skip = _position(pool, own)
            else:
                pool = _pool(analysis, kind, scope)
                own = _copies(analysis).by_code.get((kind, analysis.code(site.node)))
                skip = _position(pool, own)
            size = len(pool) - (skip is not None)
            locations.append(((site, kind, pool, skip), size))
        return locations

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site, kind, pool, skip = location
        chosen = pool[offset + 1 if skip is not None and offset >= skip else offset]
        old = preview(analysis.code(site.node))
        if kind == "name":
            argument, new = chosen, chosen
        else:
            copy = _copies(analysis).entries[chosen]
            argument, new = copy.address, preview(copy.code)
        summary = f"`{old}` -> `{new}`"
        return Edit(self.name, site.address, argument, line=site.line, summary=summary)


class SwapArguments(ChoiceOperator):
    """Swap the values of two arguments of a call.

    Applies to every pair of positional arguments, and every pair of keyword
    arguments, of one call whose code differs (`f(a, b)` gives `f(b, a)`,
    `f(x=1, y=2)` gives `f(x=2, y=1)`). Starred arguments stay. The argument
    is the pair of argument positions, counted from 0.
    """

    name = "swap_arguments"

    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        first, second = edit.argument
        # An earlier edit at this location may have replaced the whole call.
        if not isinstance(current, cst.Call) or len(current.args) <= second:
            return None
        args = list(current.args)
        args[first], args[second] = (
            args[first].with_changes(value=args[second].value),
            args[second].with_changes(value=args[first].value),
        )
        return current.with_changes(args=args)

    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        node = site.node
        if not isinstance(node, cst.Call) or len(node.args) < 2:
            return ()
        kinds = [_argument_kind(arg) for arg in node.args]
        codes = [analysis.code(arg.value) for arg in node.args]
        return tuple(
            (first, second)
            for first in range(len(node.args))
            for second in range(first + 1, len(node.args))
            if kinds[first] is not None
            and kinds[first] == kinds[second]
            and codes[first] != codes[second]
        )

    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        assert isinstance(site.node, cst.Call)
        first, second = argument
        values = [
            preview(analysis.code(site.node.args[index].value))
            for index in (first, second)
        ]
        return (
            f"swap arguments {first + 1} and {second + 1} "
            f"(`{values[0]}`, `{values[1]}`)"
        )


def _argument_kind(arg: cst.Arg) -> str | None:
    if arg.star:
        return None
    return "positional" if arg.keyword is None else "keyword"


def _position(pool: tuple[Any, ...], item: Any) -> int | None:
    """Return where `item` is in the sorted `pool`, or None when it is absent."""
    if item is None:
        return None
    position = bisect.bisect_left(pool, item)
    return position if position < len(pool) and pool[position] == item else None


def _sites(analysis: Analysis) -> dict[str, tuple[NodeSite, str, Scope]]:
    sites = analysis.cache.get("replace sites")
    if sites is None:
        facts = names(analysis)
        sites = {}
        for site in analysis.nodes:
            kind = _site_kind(facts, site)
            scope = facts.scopes.get(site.node)
            if kind is not None and scope is not None:
                sites[site.address] = (site, kind, scope)
        analysis.cache["replace sites"] = sites
    return sites


def _site_kind(facts: Names, site: NodeSite) -> str | None:
    node = site.node
    kind = _KINDS.get(type(node))
    if kind is None or ".pattern" in site.address:
        return None
    if kind == "call":
        return kind if facts.scopes.get(node) is not None else None
    if not facts.is_load(node):
        return None
    if isinstance(node, cst.Name) and node.value in RESERVED:
        return None
    return kind


def _names_in(facts: Names, scope: Scope) -> tuple[str, ...]:
    return tuple(sorted(facts.visible(scope) - RESERVED))


def _pool(analysis: Analysis, kind: str, scope: Scope) -> tuple[int, ...]:
    """Return the copies of `kind` whose free names are visible in `scope`."""
    key = ("replace pool", kind, id(scope))
    pool = analysis.cache.get(key)
    if pool is None:
        visible = names(analysis).visible(scope)
        pool = tuple(
            index
            for index, copy in enumerate(_copies(analysis).entries)
            if copy.kind == kind and copy.free <= visible
        )
        analysis.cache[key] = pool
    return pool


def _copies(analysis: Analysis) -> _Copies:
    copies = analysis.cache.get("replace copies")
    if copies is None:
        facts = names(analysis)
        entries: list[_Copy] = []
        by_code: dict[tuple[str, str], int] = {}
        for address, node in _expressions(analysis.module, ""):
            kind = _KINDS[type(node)]
            if kind == "attribute" and not facts.is_load(node):
                continue
            if kind == "call" and (
                facts.scopes.get(node) is None or not _copyable_call(node)
            ):
                continue
            code = analysis.code(node)
            if (kind, code) in by_code:
                continue
            by_code[kind, code] = len(entries)
            entries.append(_Copy(address, node, kind, code, facts.free_names(node)))
        copies = _Copies(
            entries=tuple(entries),
            index={copy.address: index for index, copy in enumerate(entries)},
            by_code=by_code,
        )
        analysis.cache["replace copies"] = copies
    return copies


def _expressions(
    node: cst.CSTNode, address: str
) -> Iterator[tuple[str, cst.BaseExpression]]:
    """Yield the attribute accesses and calls under `node`, outside match patterns."""
    if isinstance(node, (cst.Attribute, cst.Call)) and ".pattern" not in address:
        yield address, node
    for name in node_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield from _expressions(value, child_address(address, name))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, cst.CSTNode):
                    yield from _expressions(item, child_address(address, name, index))


def _copyable_call(node: cst.Call) -> bool:
    finder = _Unmovable()
    node.visit(finder)
    return not finder.found


class _Unmovable(cst.CSTVisitor):
    """Find the parts of an expression that only compile in some scopes."""

    def __init__(self) -> None:
        self.found = False

    def visit_Await(self, node: cst.Await) -> None:
        self.found = True

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = True

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.found = True

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if node.asynchronous is not None:
            self.found = True
