"""Operators that delete, insert, replace, swap and move whole statements.

A statement here is an element of a block: the body of the module or of an
indented block (`SimpleStatementLine` or a compound statement such as `if`,
`for` or `def`). Statements of one-line suites (`if x: return y`) and the
small statements joined by `;` on one line are not sites.

The comment and blank lines above a statement belong to it: deleting the
statement removes them, swapping moves them with it, a replacement keeps them
above the new statement, and an insertion goes above them. Copies are taken
from the original tree, so they never carry other edits of the same genome,
and neither does a moved statement: moving is deleting the statement and
inserting its original elsewhere.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import libcst as cst

from ._analysis import Analysis, Statement, StatementSite
from ._edit import Edit
from ._operator_base import (
    BaseStatementOperator,
    BlockSlots,
    copy_statement,
    pick_from_pool,
)

__all__ = [
    "DeleteStatement",
    "InsertJump",
    "InsertStatement",
    "InsertStatementAfter",
    "MoveStatement",
    "ReplaceStatement",
    "SwapStatements",
]

#: The statements `insert_jump` inserts, by its argument.
_JUMPS = {"break": cst.Break, "continue": cst.Continue, "return": cst.Return}


class _StatementOperator(BaseStatementOperator):
    level = "statement"

    def _copy_source(self, analysis: Analysis, edit: Edit) -> Statement:
        return analysis.ingredients[analysis.ingredient_index[edit.argument]].node

    def _check_copy(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        if edit.location not in analysis.statement_by_address:
            return None
        if not isinstance(edit.argument, str):
            return None
        if edit.argument not in analysis.ingredient_index:
            return None
        return (edit.location,)


class DeleteStatement(_StatementOperator):
    """Delete one statement of the mutable region.

    Applies to every statement of a block, except the only `pass` of a
    block. A block left empty gets `pass`. The argument is None.
    """

    name = "delete_statement"
    removes_location = True

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        if (
            edit.location not in analysis.statement_by_address
            or edit.argument is not None
        ):
            return None
        return (edit.location,)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        site = analysis.statement_by_address[edit.location]
        del slots.entries[slots.position(site.index)]

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        sizes = Counter(site.block for site in analysis.statements)
        # Deleting the only `pass` of a block would put it back unchanged.
        return [
            (site, 0 if sizes[site.block] == 1 and _is_pass(site.node) else 1)
            for site in analysis.statements
        ]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site: StatementSite = location
        preview = analysis.ingredients[site.ingredient].preview
        return Edit(
            self.name, site.address, None, line=site.line, summary=f"delete `{preview}`"
        )


class InsertStatement(_StatementOperator):
    """Insert a copy of an ingredient before one statement of the mutable region.

    Applies before every statement of a block, with every ingredient that
    compiles in that statement's scope (the statement's own copy included,
    which duplicates it). The argument is the ingredient's address.
    """

    name = "insert_statement"

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        return self._check_copy(analysis, edit)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        site = analysis.statement_by_address[edit.location]
        copy = copy_statement(self._copy_source(analysis, edit), ())
        slots.entries.insert(slots.position(site.index), (None, copy))

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        return [(site, len(analysis.pool(site.scope))) for site in analysis.statements]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site: StatementSite = location
        ingredient = analysis.ingredients[analysis.pool(site.scope)[offset]]
        summary = f"insert copy of {ingredient.describe()} `{ingredient.preview}`"
        return Edit(
            self.name, site.address, ingredient.address, line=site.line, summary=summary
        )


class InsertStatementAfter(InsertStatement):
    """Insert a copy of an ingredient after one statement of the mutable region.

    Applies after every statement of a block, with every ingredient that
    compiles in that statement's scope. The copy goes below the statement
    and above the comment lines of the next one. The argument is the
    ingredient's address.
    """

    name = "insert_statement_after"

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        site = analysis.statement_by_address[edit.location]
        copy = copy_statement(self._copy_source(analysis, edit), ())
        slots.insert_after(site.index, copy)

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site: StatementSite = location
        ingredient = analysis.ingredients[analysis.pool(site.scope)[offset]]
        summary = (
            f"insert copy of {ingredient.describe()} `{ingredient.preview}` "
            "after this statement"
        )
        return Edit(
            self.name, site.address, ingredient.address, line=site.line, summary=summary
        )


class ReplaceStatement(_StatementOperator):
    """Replace one statement of the mutable region with a copy of an ingredient.

    Applies to every statement of a block, with every ingredient that
    compiles in its scope except the one with the statement's own code. The
    argument is the ingredient's address.
    """

    name = "replace_statement"
    removes_location = True

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        return self._check_copy(analysis, edit)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        site = analysis.statement_by_address[edit.location]
        position = slots.position(site.index)
        current = slots.entries[position][1]
        copy = copy_statement(self._copy_source(analysis, edit), current.leading_lines)
        slots.entries[position] = (None, copy)

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        locations = []
        for site in analysis.statements:
            pool = analysis.pool(site.scope)
            own = 1 if site.ingredient in pool else 0
            locations.append((site, len(pool) - own))
        return locations

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site: StatementSite = location
        index = pick_from_pool(analysis.pool(site.scope), offset, site.ingredient)
        ingredient = analysis.ingredients[index]
        summary = (
            f"replace with copy of {ingredient.describe()} `{ingredient.preview}`"
        )
        return Edit(
            self.name, site.address, ingredient.address, line=site.line, summary=summary
        )


class SwapStatements(_StatementOperator):
    """Swap two statements of one block of the mutable region.

    Applies to every pair of statements in a block whose code differs, the
    earlier one as the location and the later one's address as the argument.
    """

    name = "swap_statements"

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        if not isinstance(edit.argument, str):
            return None
        first = analysis.statement_by_address.get(edit.location)
        second = analysis.statement_by_address.get(edit.argument)
        if first is None or second is None or first is second:
            return None
        if first.block != second.block:
            return None
        return (first.address, second.address)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        first = slots.position(analysis.statement_by_address[edit.location].index)
        second = slots.position(analysis.statement_by_address[edit.argument].index)
        entries = slots.entries
        entries[first], entries[second] = entries[second], entries[first]

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        blocks: dict[str, list[StatementSite]] = {}
        for site in analysis.statements:
            blocks.setdefault(site.block, []).append(site)
        locations = []
        for sites in blocks.values():
            pairs = tuple(
                (first, second)
                for index, first in enumerate(sites)
                for second in sites[index + 1 :]
                if first.ingredient != second.ingredient
            )
            locations.append((pairs, len(pairs)))
        return locations

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        first, second = location[offset]
        summary = f"swap with line {second.line}"
        return Edit(
            self.name, first.address, second.address, line=first.line, summary=summary
        )


class InsertJump(_StatementOperator):
    """Insert `break`, `continue` or a bare `return` before one statement.

    Applies before every statement of a block: `break` and `continue` where
    the statement is inside a loop body, `return` where it is inside a
    function. The argument is the inserted keyword.
    """

    name = "insert_jump"

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        site = analysis.statement_by_address.get(edit.location)
        if site is None or edit.argument not in _jumps(site):
            return None
        return (edit.location,)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        site = analysis.statement_by_address[edit.location]
        jump = cst.SimpleStatementLine(body=[_JUMPS[edit.argument]()])
        slots.entries.insert(slots.position(site.index), (None, jump))

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        return [(site, len(_jumps(site))) for site in analysis.statements]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site: StatementSite = location
        jump = _jumps(site)[offset]
        return Edit(
            self.name, site.address, jump, line=site.line, summary=f"insert `{jump}`"
        )


def _jumps(site: StatementSite) -> tuple[str, ...]:
    loop = ("break", "continue") if site.scope.in_loop else ()
    return loop + (("return",) if site.scope.in_function else ())


def _is_pass(node: Statement) -> bool:
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Pass)
    )
