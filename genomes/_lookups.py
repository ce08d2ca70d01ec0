"""Where `bind_local` applies: globals and attribute accesses that a loop reads.

A name qualifies when it is a builtin or bound exactly once at module level,
is not bound in the function or an enclosing one, and the loop never
assigns it. The loop must also read it other than as the start of an
attribute access, for which binding the access is better. A dotted access
`a.b.c` qualifies when the loop calls it, or when `a` is a module imported
at module level. The loop must assign neither `a` nor `a.b` nor `a.b.c`,
and must read `a.b.c` at least once as a whole. Every read of the value in
the parts of the loop that run on each iteration is an occurrence to
replace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import ExpressionContext

from ._address import is_within
from ._analysis import Analysis, NodeSite, StatementSite
from ._scopes import RESERVED, Names
from ._speed_support import Loop, module_binding, nodes_under, rebound

__all__ = ["Binding", "loop_lookups"]


@dataclass(frozen=True)
class Binding:
    """One possible edit: bind `value` to `local` before `statement`."""

    statement: StatementSite
    #: The edit's argument: the code of the bound value, as first written.
    text: str
    #: Equal for values with equal code, whatever their layout.
    key: str
    #: The name the local gets unless another value has it already.
    base: str
    value: cst.BaseExpression
    occurrences: tuple[str, ...]
    local: str = ""



def loop_lookups(analysis: Analysis, facts: Names, loop: Loop) -> list[Binding]:
    """Return the `bind_local` bindings of one loop."""
    inside = nodes_under(analysis, loop.site.address)
    written = _written_names(facts, inside)
    stored = {
        _dotted(site.node)
        for site in inside
        if isinstance(site.node, cst.Attribute)
        and facts.contexts.get(site.node) is not ExpressionContext.LOAD
    }
    found: dict[str, tuple[cst.BaseExpression, list[str]]] = {}
    qualified: set[str] = set()
    for site in inside:
        if not any(is_within(site.address, part) for part in loop.repeated):
            continue
        node = site.node
        if not facts.is_load(node):
            continue
        if isinstance(node, cst.Attribute):
            chain = _dotted(node)
            if chain is None or not _stable_chain(facts, chain, written, stored, loop):
                continue
            text = ".".join(chain)
            if _is_maximal(analysis, site) and (
                _is_called(analysis, site) or _is_module(facts, chain[0], loop)
            ):
                qualified.add(text)
            found.setdefault(text, (cst.parse_expression(text), []))[1].append(
                site.address
            )
        elif isinstance(node, cst.Name) and _is_global(facts, node, written):
            found.setdefault(node.value, (cst.Name(node.value), []))[1].append(
                site.address
            )
            # A module read only through its attributes is better bound as
            # those attributes (`math.sqrt`), which the chains above offer.
            if _is_maximal(analysis, site):
                qualified.add(node.value)

    bindings = []
    for text, (value, occurrences) in found.items():
        if text not in qualified:
            continue
        parts = [part.lower().strip("_") for part in text.split(".")]
        base = "_".join(part for part in parts if part)
        if len(parts) == 1 or not base[:1].isalpha():
            base = f"local_{base}"
        bindings.append(
            Binding(loop.site, text, "name " + text, base, value, tuple(occurrences))
        )
    return bindings


def _written_names(facts: Names, sites: Sequence[NodeSite]) -> set[str]:
    """Return the names that `sites` bind, delete or import."""
    written = set()
    for site in sites:
        node = site.node
        if not isinstance(node, cst.Name):
            continue
        context = facts.contexts.get(node)
        if context in (ExpressionContext.STORE, ExpressionContext.DEL) or (
            context is ExpressionContext.LOAD and facts.scopes.get(node) is None
        ):
            written.add(node.value)
    return written


def _dotted(node: cst.CSTNode) -> tuple[str, ...] | None:
    """Return `("a", "b", "c")` for `a.b.c`, or None for anything else."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name) or getattr(node, "lpar", ()):
        return None
    parts.append(node.value)
    return tuple(reversed(parts))


def _stable_chain(
    facts: Names,
    chain: tuple[str, ...],
    written: set[str],
    stored: set[tuple[str, ...] | None],
    loop: Loop,
) -> bool:
    """Tell whether the loop leaves the value of the access `chain` alone."""
    if chain[0] in written or chain[0] in RESERVED:
        return False
    return not any(chain[: length] in stored for length in range(2, len(chain) + 1))


def _is_maximal(analysis: Analysis, site: NodeSite) -> bool:
    parent_address, _, field = site.address.rpartition(".")
    parent = analysis.site(parent_address)
    return not (field == "value" and parent and isinstance(parent.node, cst.Attribute))


def _is_called(analysis: Analysis, site: NodeSite) -> bool:
    parent_address, _, field = site.address.rpartition(".")
    parent = analysis.site(parent_address)
    return field == "func" and parent is not None and isinstance(parent.node, cst.Call)


def _is_module(facts: Names, root: str, loop: Loop) -> bool:
    binding = module_binding(facts, root)
    return isinstance(binding, cst.Import) and not rebound(facts, root, loop.scope)


def _is_global(facts: Names, node: cst.Name, written: set[str]) -> bool:
    """Tell whether `node` reads a builtin or a name bound once at module level."""
    name = node.value
    if name in RESERVED or name.startswith("__") or name in written:
        return False
    scope = facts.scopes.get(node)
    if scope is None or rebound(facts, name, scope):
        return False
    if module_binding(facts, name) is not None:
        return True
    return name in facts.builtins_used and name not in facts.module_scope.assignments
