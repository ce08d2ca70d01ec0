"""Speed rewrites that bind a value to a new local before a statement and reuse it.

Each edit inserts `local = value` before a statement of a function body (a
loop, or the statement that computed the value several times) and replaces
the occurrences of the value inside that statement by `local`:
- `bind_local`: a global name, or a dotted attribute access such as
  `math.sqrt` or `out.append`, that a loop reads on every iteration;
- `hoist_invariant`: a pure expression in a loop whose variables the loop
  never touches otherwise (loop-invariant code motion);
- `eliminate_common_subexpression`: a pure expression computed two or more
  times by one statement.

The occurrences are addressed in the original tree like any other edit, so
the genome's other edits keep their meaning. An occurrence that another edit
changed stays as that edit made it. The binding goes before the statement in
genome order with the other insertions there.

New locals get names that appear nowhere in the module (`math_sqrt`,
`local_len`, `len_items`). The names of all three operators are chosen
together, in the order of the values' code. So one value always gets the
same name and two different values never share one, whichever operator was
asked first. Two bindings of the same
value may share a name. That is safe because each binding runs right before
the code that reads it, and that code leaves the value unchanged.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import libcst as cst
from libcst.metadata import FunctionScope

from ._address import is_within
from ._analysis import Analysis, NodeSite, StatementSite, preview
from ._edit import Edit
from ._lookups import Binding, loop_lookups
from ._operator_base import BaseStatementOperator, BlockSlots
from ._scopes import Names, fresh_name, names
from ._spacing import follows_separator
from ._speed_support import (
    expression_key,
    is_pure,
    loops,
    name_base,
    nodes_under,
    untouched,
)

__all__ = ["BindLocal", "Binding", "EliminateCommonSubexpression", "HoistInvariant"]

#: Expressions worth computing once: a name or a literal costs no more to
#: evaluate than the local that would replace it.
_COSTLY = (cst.BinaryOperation, cst.Call, cst.Subscript)
#: Code inside these may run any number of times, or never.
_SKIPPED_SCOPES = (
    cst.Lambda,
    cst.ListComp,
    cst.SetComp,
    cst.DictComp,
    cst.GeneratorExp,
    cst.CompFor,
    cst.CompIf,
)
#: Parts of compound statements that run whenever the statement starts.
_ALWAYS_RUN_FIELDS = {
    (cst.If, "test"),
    (cst.While, "test"),
    (cst.For, "iter"),
    (cst.With, "items"),
}


class _BindingOperator(BaseStatementOperator):
    level = "speed"

    @abc.abstractmethod
    def _bindings_impl(self, analysis: Analysis) -> list[Binding]:
        """Return every binding this operator can make, in source order.

        `local` is left empty; `_named_bindings` fills it in.
        """

    @abc.abstractmethod
    def _summary(self, analysis: Analysis, binding: Binding) -> str:
        """Describe the edit for people."""

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        if not isinstance(edit.argument, str):
            return None
        binding = self._lookup(analysis).get((edit.location, edit.argument))
        return None if binding is None else (edit.location,)

    def node_addresses(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        return self._lookup(analysis)[edit.location, edit.argument].occurrences

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        binding = self._lookup(analysis)[edit.location, edit.argument]
        value = binding.value
        if "\n" not in analysis.code(value):
            value = value.with_changes(lpar=(), rpar=())
        position = slots.position(binding.statement.index)
        index, statement = slots.entries[position]
        # The binding takes over the blank and comment lines above the
        # statement, so that it sits right above the code that reads it.
        target = cst.AssignTarget(cst.Name(binding.local))
        assignment = cst.SimpleStatementLine(
            body=[cst.Assign(targets=[target], value=value)],
            leading_lines=statement.leading_lines,
        )
        slots.entries[position] = (index, statement.with_changes(leading_lines=()))
        slots.entries.insert(position, (None, assignment))

    def rewrite_node(
        self,
        edit: Edit,
        analysis: Analysis,
        address: str,
        original: cst.CSTNode,
        current: cst.CSTNode,
    ) -> cst.CSTNode:
        # An occurrence that another edit changed no longer computes the value.
        if current is not original:
            return current
        assert isinstance(original, cst.BaseExpression)
        local = cst.Name(self._lookup(analysis)[edit.location, edit.argument].local)
        if follows_separator(analysis, address):
            return local
        # After a keyword, as in `if(a + b):` or `in"ab".upper()`, the name
        # keeps or gets parentheses, since `ifab` would be another name.
        return local.with_changes(
            lpar=original.lpar or (cst.LeftParen(),),
            rpar=original.rpar or (cst.RightParen(),),
        )

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        grouped: dict[str, list[Binding]] = {}
        for binding in self._lookup(analysis).values():
            grouped.setdefault(binding.statement.address, []).append(binding)
        return [(bindings, len(bindings)) for bindings in grouped.values()]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        binding: Binding = location[offset]
        statement = binding.statement
        summary = self._summary(analysis, binding)
        return Edit(
            self.name,
            statement.address,
            binding.text,
            line=statement.line,
            summary=summary,
        )

    def _lookup(self, analysis: Analysis) -> dict[tuple[str, str], Binding]:
        return _named_bindings(analysis)[self.name]


class BindLocal(_BindingOperator):
    """Bind a global name or an attribute access that a loop reads to a local before it.

    Applies to a `for` or `while` loop in a function and each global it
    reads on every iteration: a builtin, or a name bound once at module
    level. It also applies to each dotted access that the loop calls, such
    as `self.items.append`, or that starts with a module imported at module
    level, such as `math.sqrt`. The loop must not assign the name, the root
    of the access or the access itself. The argument is the name or the
    access, such as `math.sqrt`.
    """

    name = "bind_local"

    def _bindings_impl(self, analysis: Analysis) -> list[Binding]:
        facts = names(analysis)
        bindings = []
        for loop in loops(analysis):
            bindings.extend(loop_lookups(analysis, facts, loop))
        return bindings

    def _summary(self, analysis: Analysis, binding: Binding) -> str:
        return f"bind `{binding.text}` to local `{binding.local}` before the loop"


class HoistInvariant(_BindingOperator):
    """Compute a loop-invariant expression once, before the loop.

    Applies to a `for` or `while` loop in a function and each pure
    expression that it evaluates on every iteration: an operation, subscript
    or call of a pure builtin or `math` function (see `is_pure`). At least
    one copy must run on every iteration, outside `if`, `try` and `with`
    bodies and before any statement that may jump, because a copy that the
    loop guards may raise when computed unguarded. Elsewhere in the loop the
    expression's variables may only be read, inside pure expressions (see
    `untouched`). The argument is the expression's code.

    NOTE: a loop that runs no iteration still computes the value once, so
    `total / len(items)` hoisted out of `for item in items:` raises on an
    empty list where the original did not.
    """

    name = "hoist_invariant"

    def _bindings_impl(self, analysis: Analysis) -> list[Binding]:
        facts = names(analysis)
        bindings = []
        for loop in loops(analysis):
            sites = [
                site
                for site in nodes_under(analysis, loop.site.address)
                if any(is_within(site.address, part) for part in loop.repeated)
            ]
            for group in _groups(analysis, facts, sites, loop.scope):
                if untouched(analysis, facts, group, sites, loop.scope) and any(
                    _every_iteration(analysis, loop.site.address, site.address)
                    for site in group
                ):
                    bindings.append(_binding(analysis, loop.site, group))
        return bindings

    def _summary(self, analysis: Analysis, binding: Binding) -> str:
        code = preview(binding.text)
        return f"hoist `{code}` out of the loop as `{binding.local}`"


class EliminateCommonSubexpression(_BindingOperator):
    """Compute once a pure expression that one statement computes several times.

    Applies to a simple statement, or the test of an `if`, in a function and
    each pure expression (see `is_pure`) that it computes two or more times.
    Elsewhere in the statement the expression's variables may only be read,
    inside pure expressions (see `untouched`). The first copy must always be
    evaluated, so it may not sit on the right of `and`/`or` or in a branch
    of `x if c else y`. The argument is the expression's code.
    """

    name = "eliminate_common_subexpression"

    def _bindings_impl(self, analysis: Analysis) -> list[Binding]:
        facts = names(analysis)
        bindings = []
        for statement in analysis.statements:
            node = statement.node
            scope = facts.scopes.get(node)
            if not isinstance(scope, FunctionScope):
                continue
            if isinstance(node, cst.SimpleStatementLine):
                root = statement.address
            elif isinstance(node, cst.If):
                root = statement.address + ".test"
            else:
                continue
            part = analysis.site(root)
            assert part is not None
            sites = [part, *nodes_under(analysis, root)]
            for group in _groups(analysis, facts, sites, scope):
                if (
                    len(group) > 1
                    and untouched(analysis, facts, group, sites, scope)
                    and _always_evaluated(analysis, group[0].address, root)
                ):
                    bindings.append(_binding(analysis, statement, group))
        return bindings

    def _summary(self, analysis: Analysis, binding: Binding) -> str:
        code = preview(binding.text)
        count = len(binding.occurrences)
        return f"compute `{code}` once as `{binding.local}` ({count} uses)"


def _groups(
    analysis: Analysis,
    facts: Names,
    sites: Sequence[NodeSite],
    scope: FunctionScope,
) -> list[list[NodeSite]]:
    """Group the pure, costly expressions of `sites` read in `scope` by their code."""
    groups: dict[str, list[NodeSite]] = {}
    for site in sites:
        node = site.node
        if not isinstance(node, _COSTLY) or facts.scopes.get(node) is not scope:
            continue
        if isinstance(node, cst.Subscript) and not facts.is_load(node):
            continue
        if not is_pure(facts, node, scope):
            continue
        groups.setdefault(expression_key(analysis, node), []).append(site)
    return list(groups.values())


def _binding(
    analysis: Analysis, statement: StatementSite, group: list[NodeSite]
) -> Binding:
    first = group[0].node
    assert isinstance(first, cst.BaseExpression)
    occurrences = tuple(site.address for site in group)
    key = "expression " + expression_key(analysis, first)
    return Binding(
        statement, analysis.code(first), key, name_base(first), first, occurrences
    )


def _every_iteration(analysis: Analysis, loop: str, address: str) -> bool:
    """Tell whether the expression at `address` runs on every iteration of `loop`.

    It must sit in a statement of the loop body that no earlier statement of
    the body can skip, outside the bodies of compound statements, and not
    where `and`, `or` or `x if c else y` may skip it.
    """
    while True:
        parent_address, _, step = address.rpartition(".")
        field = step.split("[")[0]
        if parent_address == loop:
            return field == "test"
        parent = analysis.site(parent_address)
        assert parent is not None
        node = parent.node
        if parent_address == loop + ".body":
            assert isinstance(node, (cst.IndentedBlock, cst.SimpleStatementSuite))
            index = int(step[step.index("[") + 1 : -1])
            return not any(_may_jump(statement) for statement in node.body[:index])
        if isinstance(node, cst.BooleanOperation) and field == "right":
            return False
        if isinstance(node, cst.IfExp) and field in ("body", "orelse"):
            return False
        if isinstance(node, _SKIPPED_SCOPES):
            return False
        if isinstance(node, cst.BaseCompoundStatement) and (
            (type(node), field) not in _ALWAYS_RUN_FIELDS
        ):
            return False
        address = parent_address


def _may_jump(statement: cst.CSTNode) -> bool:
    """Tell whether `statement` may leave the rest of its block unrun."""
    stack = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Break, cst.Continue, cst.Return, cst.Raise)):
            return True
        stack.extend(node.children)
    return False


def _always_evaluated(analysis: Analysis, address: str, root: str) -> bool:
    """Tell whether the expression at `address` runs whenever `root` runs."""
    while address != root:
        parent_address, _, step = address.rpartition(".")
        parent = analysis.site(parent_address)
        assert parent is not None
        field = step.split("[")[0]
        node = parent.node
        if isinstance(node, cst.BooleanOperation) and field == "right":
            return False
        if isinstance(node, cst.IfExp) and field in ("body", "orelse"):
            return False
        address = parent_address
    return True


#: The operators whose locals `_named_bindings` names together.
_BINDING_OPERATORS: tuple[_BindingOperator, ...] = (
    BindLocal(),
    HoistInvariant(),
    EliminateCommonSubexpression(),
)


def _named_bindings(analysis: Analysis) -> dict[str, dict[tuple[str, str], Binding]]:
    """Return the bindings of every binding operator, by operator name, with names.

    Values are named in the order of their keys, so the names do not depend
    on the order in which operators are asked.
    """
    named = analysis.cache.get("named bindings")
    if named is not None:
        return named

    found = {
        operator.name: operator._bindings_impl(analysis)
        for operator in _BINDING_OPERATORS
    }
    by_key = {
        binding.key: binding for group in found.values() for binding in group
    }
    taken = set(names(analysis).identifiers)
    locals_by_key = {}
    for key in sorted(by_key):
        binding = by_key[key]
        base = binding.base
        if base in taken and binding.key.startswith("expression "):
            base = name_base(binding.value, detailed=True)
        local = fresh_name(base, taken)
        taken.add(local)
        locals_by_key[key] = local

    named = {}
    for operator_name, group in found.items():
        lookup: dict[tuple[str, str], Binding] = {}
        for binding in group:
            named_binding = replace(binding, local=locals_by_key[binding.key])
            lookup.setdefault((binding.statement.address, binding.text), named_binding)
        named[operator_name] = lookup
    analysis.cache["named bindings"] = named
    return named
