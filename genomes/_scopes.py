"""Names and scopes of a target, for operators that reuse or bind names.

libcst's `ScopeProvider` and `ExpressionContextProvider` give, for each node
of the original tree, its scope and whether a name is read (LOAD), bound
(STORE) or deleted (DEL). On top of them this module computes which names
are visible in a scope: the scope's own bindings, those of the enclosing
function scopes and of the module, and the builtins that the module uses.
Class bodies are skipped on the way out, as Python skips them. Import
aliases and `global` names have no scope in libcst and count as no read.

Cost: one scope analysis of the module, about as long as parsing it, run the
first time an operator that needs names counts its sites.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import (
    ClassScope,
    ExpressionContext,
    ExpressionContextProvider,
    GlobalScope,
    MetadataWrapper,
    Scope,
    ScopeProvider,
)

from ._analysis import Analysis

__all__ = ["Names", "count_names", "fresh_name", "names"]

#: Names that look like variables but must never be replaced or bound anew:
#: the constants are keywords, and `super()` without arguments needs the
#: compiler to see the name `super`.
RESERVED = frozenset({"True", "False", "None", "super", "__class__", "__debug__"})


@dataclass(frozen=True)
class Names:
    """Scopes, expression contexts and identifiers of a target's original tree."""

    scopes: Mapping[cst.CSTNode, Scope | None]
    contexts: Mapping[cst.CSTNode, ExpressionContext]
    #: Every identifier written in the module, which new names must avoid.
    identifiers: frozenset[str]
    #: Builtins that the module reads somewhere.
    builtins_used: frozenset[str]
    module_scope: GlobalScope
    _visible: dict[int, frozenset[str]] = field(default_factory=dict, repr=False)

    def is_load(self, node: cst.CSTNode) -> bool:
        """Tell whether `node` is an expression that is read, not bound or deleted."""
        return (
            self.contexts.get(node) is ExpressionContext.LOAD
            and self.scopes.get(node) is not None
        )

    def assigned(self, scope: Scope) -> frozenset[str]:
        """Return the names that `scope` itself binds."""
        return frozenset(
            assignment.name
            for assignment in scope.assignments
            if assignment.name.isidentifier()
        )

    def visible(self, scope: Scope) -> frozenset[str]:
        """Return the names that code in `scope` can read, with the builtins used."""
        known = self._visible.get(id(scope))
        if known is not None:
            return known
        if isinstance(scope, GlobalScope):
            result = self.assigned(scope) | self.builtins_used
        else:
            parent = scope.parent
            while isinstance(parent, ClassScope):
                parent = parent.parent
            result = self.assigned(scope) | self.visible(parent)
        self._visible[id(scope)] = result
        return result

    def free_names(self, node: cst.CSTNode) -> frozenset[str]:
        """Return the names that `node` reads from the scope it sits in."""
        scope = self.scopes.get(node)
        collector = _Reads(self, scope)
        node.visit(collector)
        return frozenset(collector.names)


def names(analysis: Analysis) -> Names:
    """Return the name facts of `analysis`, computing them on first use."""
    facts = analysis.cache.get("names")
    if facts is None:
        wrapper = MetadataWrapper(analysis.module, unsafe_skip_copy=True)
        scopes = wrapper.resolve(ScopeProvider)
        contexts = wrapper.resolve(ExpressionContextProvider)
        identifiers = count_names(analysis.module)
        used = {
            node.value
            for node, context in contexts.items()
            if isinstance(node, cst.Name)
            and context is ExpressionContext.LOAD
            and hasattr(builtins, node.value)
        }
        module_scope = scopes[analysis.module]
        assert isinstance(module_scope, GlobalScope)
        facts = Names(
            scopes=scopes,
            contexts=contexts,
            identifiers=frozenset(identifiers),
            builtins_used=frozenset(used - RESERVED),
            module_scope=module_scope,
        )
        analysis.cache["names"] = facts
    return facts


def count_names(node: cst.CSTNode) -> Counter[str]:
    """Count the identifiers in `node` that name variables.

    Attribute names (`x` in `a.x`) and keyword argument names are left out.
    Every other `Name` counts, the bound ones included, so the count never
    misses a use of a variable.
    """
    collector = _Identifiers()
    node.visit(collector)
    return collector.names


def fresh_name(base: str, taken: frozenset[str] | set[str]) -> str:
    """Return `base`, or `base_2`, `base_3`... whichever is not in `taken`."""
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


class _Identifiers(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def visit_Name(self, node: cst.Name) -> None:
        self.names[node.value] += 1

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False


class _Reads(cst.CSTVisitor):
    def __init__(self, facts: Names, scope: Scope | None) -> None:
        self.facts = facts
        self.scope = scope
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        if self.facts.is_load(node) and self.facts.scopes.get(node) is self.scope:
            self.names.add(node.value)
