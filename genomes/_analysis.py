"""One walk over a target's tree that collects what the operators need.

The walk records, with their addresses and first lines:
- every node inside the mutable region (expression operators filter these),
- every statement of a block (a `Module` or `IndentedBlock` body) inside the
  region, with the scope it sits in (statement operators edit these),
- the ingredient pool: every statement of the whole module, deduplicated by
  its code, with what it needs from the scope it is copied into.

Copy operators take ingredients from the whole module, not only from the
mutable region, so that a function can borrow a module-level statement.
Other modules can add ingredients (`Target(ingredients=...)`): their
statements are addressed `PATH::ADDRESS`, PATH being the key the target
gives that file, and are never sites. A
copy is only offered where Python accepts it: `return`, `yield` and
`nonlocal` need a function, `await` and `async for`/`async with` need an
async function, `break` and `continue` need a loop, `from m import *` needs
module level. Compiling can still fail for reasons the walk does not model
(for example `global x` after `x` was used); `Target.apply` reports those as
`InvalidVariant`.

`from __future__` imports are neither sites nor ingredients, because they
must stay the first statements of the module.

Cost: one visit of every node, one position pass, and code generation of
every statement for the deduplication key (nested statements are generated
once per enclosing statement).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from ._address import child_address, node_fields

__all__ = [
    "ORIGIN_SEPARATOR",
    "Analysis",
    "Ingredient",
    "Needs",
    "NodeSite",
    "Scope",
    "Statement",
    "StatementSite",
    "analyse",
    "function_kinds",
    "preview",
]

#: An element of a block; both kinds carry the comment lines above them.
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement

#: Length of the code preview shown in edit summaries.
_PREVIEW_LENGTH = 40
#: The text between the file key and the address of an ingredient taken
#: from another file, as in `helpers.py::body[3]`.
ORIGIN_SEPARATOR = "::"


class Needs(enum.Flag):
    """Requirements that a statement puts on the scope it is copied into."""

    NONE = 0
    FUNCTION = enum.auto()
    ASYNC = enum.auto()
    LOOP = enum.auto()
    MODULE = enum.auto()


@dataclass(frozen=True)
class Scope:
    """The kind of scope around a statement, which decides the copies allowed there."""

    in_function: bool = False
    in_async_function: bool = False
    in_loop: bool = False
    at_module_level: bool = True

    def allows(self, needs: Needs) -> bool:
        """Tell whether a statement with `needs` compiles in this scope."""
        return (
            (Needs.FUNCTION not in needs or self.in_function)
            and (Needs.ASYNC not in needs or self.in_async_function)
            and (Needs.LOOP not in needs or self.in_loop)
            and (Needs.MODULE not in needs or self.at_module_level)
        )


@dataclass(frozen=True)
class NodeSite:
    """A node inside the mutable region."""

    address: str
    node: cst.CSTNode
    line: int


@dataclass(frozen=True)
class StatementSite:
    """A statement of a block inside the mutable region.

    `ingredient` is the index in `Analysis.ingredients` of the ingredient with
    the same code, which a replacement must not pick because it would change
    nothing.
    """

    address: str
    node: Statement
    block: str
    index: int
    line: int
    scope: Scope
    ingredient: int


@dataclass(frozen=True)
class Ingredient:
    """A statement that copy operators may copy, with a one-line preview.

    `origin` is the key of the file it comes from, or '' for the target.
    """

    address: str
    node: Statement
    line: int
    needs: Needs
    preview: str
    origin: str = ""

    def describe(self) -> str:
        """Name the ingredient for edit summaries: `line 4` or `helpers.py line 4`."""
        where = f"line {self.line}"
        return f"{self.origin} {where}" if self.origin else where


@dataclass(frozen=True)
class Analysis:
    """Everything the operators need to know about one target."""

    module: cst.Module
    nodes: tuple[NodeSite, ...]
    statements: tuple[StatementSite, ...]
    statement_by_address: Mapping[str, StatementSite]
    ingredients: tuple[Ingredient, ...]
    ingredient_index: Mapping[str, int]
    #: Tables that operators derive from the analysis, built on first use.
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def site(self, address: str) -> NodeSite | None:
        """Return the site of the mutable region's node at `address`, or None."""
        by_address = self.cache.get("node sites")
        if by_address is None:
            by_address = {site.address: site for site in self.nodes}
            self.cache["node sites"] = by_address
        return by_address.get(address)

    def code(self, node: cst.CSTNode) -> str:
        """Return the source text of a node of the original tree."""
        return self.module.code_for_node(node)

    def pool(self, scope: Scope) -> tuple[int, ...]:
        """Return the indices of the ingredients that compile in `scope`, ascending."""
        key = ("pool", scope)
        pool = self.cache.get(key)
        if pool is None:
            pool = tuple(
                index
                for index, ingredient in enumerate(self.ingredients)
                if scope.allows(ingredient.needs)
            )
            self.cache[key] = pool
        return pool


def analyse(
    module: cst.Module,
    functions: frozenset[str],
    extras: Sequence[tuple[str, cst.Module]] = (),
) -> Analysis:
    """Walk `module` once; an empty `functions` makes the whole module mutable.

    `extras` pairs a file key with the parsed module of each other file whose
    statements join the ingredient pool after the target's own.
    """
    pool = _Pool()
    walker = _Walker(module, functions, pool, "")
    walker.walk(module, "", Scope(), not functions, "")
    for key, extra in extras:
        _Walker(extra, frozenset(), pool, key).walk(extra, "", Scope(), False, "")

    statements = tuple(site for site in walker.statements if site is not None)
    return Analysis(
        module=module,
        nodes=tuple(walker.nodes),
        statements=statements,
        statement_by_address={site.address: site for site in statements},
        ingredients=tuple(pool.ingredients),
        ingredient_index=pool.index,
    )


def function_kinds(module: cst.Module) -> dict[str, str]:
    """Map the qualified name of every def and class to "function" or "class".

    Names follow `__qualname__`: `Board.place`, `outer.<locals>.inner`.
    """
    kinds: dict[str, str] = {}
    _collect_kinds(module, "", kinds)
    return kinds


def _collect_kinds(node: cst.CSTNode, prefix: str, kinds: dict[str, str]) -> None:
    for child in node.children:
        if isinstance(child, cst.BaseExpression):
            continue
        if isinstance(child, cst.FunctionDef):
            name = prefix + child.name.value
            kinds.setdefault(name, "function")
            _collect_kinds(child.body, name + ".<locals>.", kinds)
        elif isinstance(child, cst.ClassDef):
            name = prefix + child.name.value
            kinds.setdefault(name, "class")
            _collect_kinds(child.body, name + ".", kinds)
        else:
            _collect_kinds(child, prefix, kinds)


@dataclass
class _Pool:
    """The ingredients collected so far, shared by the walks of several files."""

    ingredients: list[Ingredient] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    by_code: dict[str, int] = field(default_factory=dict)


class _Walker:
    def __init__(
        self,
        module: cst.Module,
        functions: frozenset[str],
        pool: _Pool,
        origin: str,
    ) -> None:
        self.module = module
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.positions: Mapping[cst.CSTNode, CodeRange] = wrapper.resolve(
            PositionProvider
        )
        self.functions = functions
        self.pool = pool
        self.origin = origin
        self.nodes: list[NodeSite] = []
        self.statements: list[StatementSite | None] = []

    def walk(
        self,
        node: cst.CSTNode,
        address: str,
        scope: Scope,
        in_region: bool,
        prefix: str,
    ) -> Needs:
        """Record `node` and its subtree; return the subtree's needs from its scope."""
        if in_region:
            self.nodes.append(NodeSite(address, node, self._line(node)))
        needs = _own_needs(node)
        is_block = isinstance(node, (cst.Module, cst.IndentedBlock))

        for name in node_fields(type(node)):
            value = getattr(node, name)
            inner = self._enter(node, name, scope, in_region, prefix)
            if isinstance(value, cst.CSTNode):
                found = self.walk(value, child_address(address, name), *inner)
                needs |= _clear_needs(node, name, found)
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    if not isinstance(item, cst.CSTNode):
                        continue
                    item_address = child_address(address, name, index)
                    slot = len(self.statements)
                    if is_block and name == "body":
                        self.statements.append(None)
                    found = self.walk(item, item_address, *inner)
                    needs |= _clear_needs(node, name, found)
                    if is_block and name == "body":
                        self._add_statement(
                            slot, item, item_address, address, index, inner, found
                        )
        return needs

    def _enter(
        self, node: cst.CSTNode, name: str, scope: Scope, in_region: bool, prefix: str
    ) -> tuple[Scope, bool, str]:
        if name != "body":
            return scope, in_region, prefix
        if isinstance(node, cst.FunctionDef):
            qualname = prefix + node.name.value
            inner = Scope(True, node.asynchronous is not None, False, False)
            return (
                inner,
                in_region or qualname in self.functions,
                qualname + ".<locals>.",
            )
        if isinstance(node, cst.ClassDef):
            qualname = prefix + node.name.value
            return Scope(False, False, False, False), in_region, qualname + "."
        if isinstance(node, (cst.For, cst.While)):
            return replace(scope, in_loop=True), in_region, prefix
        return scope, in_region, prefix

    def _add_statement(
        self,
        slot: int,
        node: cst.CSTNode,
        address: str,
        block: str,
        index: int,
        inner: tuple[Scope, bool, str],
        needs: Needs,
    ) -> None:
        assert isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        if _is_future_import(node):
            return
        ingredient = self._add_ingredient(node, address, needs)
        scope, in_region, _ = inner
        if in_region:
            line = self._line(node)
            site = StatementSite(address, node, block, index, line, scope, ingredient)
            self.statements[slot] = site

    def _add_ingredient(self, node: Statement, address: str, needs: Needs) -> int:
        if self.origin:
            address = self.origin + ORIGIN_SEPARATOR + address
        code = self.module.code_for_node(node.with_changes(leading_lines=()))
        pool = self.pool
        index = pool.by_code.get(code)
        if index is None:
            index = len(pool.ingredients)
            pool.by_code[code] = index
            line = self._line(node)
            pool.ingredients.append(
                Ingredient(address, node, line, needs, preview(code), self.origin)
            )
        pool.index[address] = index
        return index

    def _line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line


def _own_needs(node: cst.CSTNode) -> Needs:
    if isinstance(node, (cst.Return, cst.Yield, cst.Nonlocal)):
        return Needs.FUNCTION
    if isinstance(node, cst.Await):
        return Needs.FUNCTION | Needs.ASYNC
    if (
        isinstance(node, (cst.For, cst.With, cst.CompFor))
        and node.asynchronous is not None
    ):
        return Needs.FUNCTION | Needs.ASYNC
    if isinstance(node, (cst.Break, cst.Continue)):
        return Needs.LOOP
    if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
        return Needs.MODULE
    return Needs.NONE


def _clear_needs(node: cst.CSTNode, name: str, needs: Needs) -> Needs:
    """Drop the needs that `node` itself satisfies for its child in field `name`."""
    if name != "body":
        return needs
    if isinstance(node, cst.FunctionDef):
        return needs & ~(Needs.FUNCTION | Needs.ASYNC | Needs.LOOP)
    if isinstance(node, (cst.ClassDef, cst.For, cst.While)):
        return needs & ~Needs.LOOP
    if isinstance(node, cst.Lambda):
        return needs & ~Needs.FUNCTION
    return needs


def _is_future_import(node: Statement) -> bool:
    if not isinstance(node, cst.SimpleStatementLine):
        return False
    return any(
        isinstance(small, cst.ImportFrom)
        and not small.relative
        and isinstance(small.module, cst.Name)
        and small.module.value == "__future__"
        for small in node.body
    )


def preview(code: str) -> str:
    """Shorten `code` to its first line, cut to at most 40 characters."""
    first = code.strip().splitlines()[0] if code.strip() else ""
    if len(first) > _PREVIEW_LENGTH:
        first = first[: _PREVIEW_LENGTH - 3] + "..."
    return first
