"""The operator interface shared by statement and expression operators.

An operator turns a target into a finite, ordered list of sites, each an
`Edit`, without building the list. A subclass reports its locations and how
many edits each allows (`_locations_impl`), and makes the edit for one
location and offset (`_site_impl`). From that the base class numbers all
sites, so that `sites` lists them in a fixed order and `sample` draws one
uniformly with a single `rng.randrange` call, at the cost of one bisection.
The location table is built on first use and cached with the target's
analysis.

Applying is split in two steps. `check` decides, before anything changes,
whether an edit fits the target and which addresses must still exist when
its turn comes. Then the operator rewrites what the edit names: the nodes at
the addresses that `node_addresses` returns (through `rewrite_node`) and the
statements of the blocks that `blocks` returns (through `rewrite_block`). A
subclass of `BaseNodeOperator` rewrites the node at the edit's location, and
a subclass of `BaseStatementOperator` rewrites the block holding the
location. An operator may do both and name several nodes or blocks, as the
speed rewrites do: each addressed part is rewritten where the one pass over
the tree reaches it, so other edits inside those parts stay in force.
"""

from __future__ import annotations

import abc
import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import libcst as cst

from ._analysis import Analysis, Statement
from ._edit import Edit

if TYPE_CHECKING:
    from ._target import Target

__all__ = [
    "LEVELS",
    "BaseNodeOperator",
    "BaseOperator",
    "BaseStatementOperator",
    "BlockSlots",
]

#: The kinds of operator that `evolver operators` lists: whole statements,
#: parts of expressions, and rewrites meant to make code faster.
LEVELS = ("statement", "expression", "speed")


@dataclass(frozen=True)
class _Table:
    locations: tuple[Any, ...]
    ends: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.ends[-1] if self.ends else 0


class BaseOperator(abc.ABC):
    """A kind of edit: where it applies, how to sample it, how to carry it out."""

    #: The name stored in `Edit.operator` and used as the key of `OPERATORS`.
    name: ClassVar[str]
    #: One of `LEVELS`.
    level: ClassVar[str]
    #: Whether carrying out the edit removes the node at its location, so that
    #: later edits addressed inside that node are skipped.
    removes_location: ClassVar[bool] = False

    def count(self, target: Target) -> int:
        """Return the number of sites in `target`, without building them."""
        return self._table(target._analysis).total

    def sites(self, target: Target) -> list[Edit]:
        """List every edit this operator can make to `target`, in a fixed order."""
        analysis = target._analysis
        table = self._table(analysis)
        edits: list[Edit] = []
        start = 0
        for location, end in zip(table.locations, table.ends, strict=True):
            edits.extend(
                self._site_impl(analysis, location, offset)
                for offset in range(end - start)
            )
            start = end
        return edits

    def sample(self, target: Target, rng: random.Random) -> Edit | None:
        """Draw one site uniformly, or return None when there is none."""
        analysis = target._analysis
        table = self._table(analysis)
        if table.total == 0:
            return None

        index = rng.randrange(table.total)
        group = bisect.bisect_right(table.ends, index)
        start = table.ends[group - 1] if group else 0
        return self._site_impl(analysis, table.locations[group], index - start)

    @abc.abstractmethod
    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        """Return the addresses that must still exist for `edit` to take effect.

        Return None when the edit does not fit this target: its location or
        argument names nothing this operator can change here.
        """

    def removed(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        """Return the addresses of the nodes that `edit` removes from the tree.

        Later edits addressed inside those nodes are skipped. Only called for
        edits that `check` accepted.
        """
        return (edit.location,) if self.removes_location else ()

    def blocks(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        """Return the addresses of the blocks whose statements `edit` rewrites."""
        return ()

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        """Carry out `edit` on the statements of the block `slots.address`."""
        raise AssertionError(f"{self.name} rewrites no block")

    def node_addresses(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        """Return the addresses of the nodes that `edit` rewrites in place."""
        return ()

    def rewrite_node(
        self,
        edit: Edit,
        analysis: Analysis,
        address: str,
        original: cst.CSTNode,
        current: cst.CSTNode,
    ) -> cst.CSTNode | None:
        """Return `current`, the node at `address`, changed by `edit`.

        `original` is the node at `address` in the original tree and `current`
        the same node with the genome's other edits already made (to its
        children, or by earlier edits at the same address). Return None to
        skip the edit when an earlier edit at the same address made `current`
        a node that `edit` cannot change. Only an edit that names one node
        and no block may be skipped this way, because the parts of the edit
        already made elsewhere would stay.
        """
        raise AssertionError(f"{self.name} rewrites no node")

    @abc.abstractmethod
    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        """Return each location with the number of edits it allows."""

    @abc.abstractmethod
    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        """Make edit number `offset` (from 0) of `location`."""

    def _table(self, analysis: Analysis) -> _Table:
        key = ("sites", self.name)
        table = analysis.cache.get(key)
        if table is None:
            pairs = [pair for pair in self._locations_impl(analysis) if pair[1] > 0]
            table = _Table(
                locations=tuple(location for location, _ in pairs),
                ends=tuple(itertools.accumulate(size for _, size in pairs)),
            )
            analysis.cache[key] = table
        return table

    def __repr__(self) -> str:
        return f"<operator {self.name}>"


class BaseNodeOperator(BaseOperator):
    """An operator that rewrites the node at an edit's location in place."""

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
        return self.rewrite(edit, original, current)

    @abc.abstractmethod
    def rewrite(
        self, edit: Edit, original: cst.CSTNode, current: cst.CSTNode
    ) -> cst.CSTNode | None:
        """Return `current` changed by `edit`, or None to skip the edit.

        `original` is the addressed node of the original tree and `current`
        the same node with the genome's other edits already made (to its
        children, or by earlier edits at the same location). An earlier edit
        at the same location may have replaced `current` by another kind of
        node, as `insert_unary` does when it wraps an operand in `-(...)`.
        Return None when `edit` cannot change that node, so that the edit is
        skipped and listed in `Applied.skipped`. Only called for edits that
        `check` accepted.
        """


@dataclass
class BlockSlots:
    """The statements of one block while a genome is being applied.

    Each entry pairs the statement's index in the original block (None for a
    copy that an edit inserted or for a replacement) with its current node.
    `inserted_after` counts the statements already inserted after each
    original statement, so that such insertions keep genome order.
    """

    address: str
    entries: list[tuple[int | None, Statement]]
    inserted_after: dict[int, int] = field(default_factory=dict)

    def position(self, original_index: int) -> int:
        """Return where the statement that was at `original_index` is now."""
        for position, (index, _) in enumerate(self.entries):
            if index == original_index:
                return position
        raise AssertionError(
            f"statement {original_index} is gone; check() must skip it"
        )

    def insert_after(self, original_index: int, statement: Statement) -> None:
        """Insert `statement` after the original statement and earlier such copies."""
        done = self.inserted_after.get(original_index, 0)
        position = self.position(original_index) + 1 + done
        self.entries.insert(position, (None, statement))
        self.inserted_after[original_index] = done + 1


class BaseStatementOperator(BaseOperator):
    """An operator that rewrites the statements of the block holding its location."""

    def blocks(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        return (analysis.statement_by_address[edit.location].block,)

    @abc.abstractmethod
    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        """Carry out `edit` on `slots`. Only called for edits that `check` accepted."""


def copy_statement(
    node: Statement, leading_lines: Sequence[cst.EmptyLine]
) -> Statement:
    """Copy an ingredient, giving it `leading_lines` in place of its own."""
    return node.with_changes(leading_lines=tuple(leading_lines))


def pick_from_pool(pool: Sequence[int], offset: int, excluded: int | None) -> int:
    """Return entry `offset` of `pool` after removing the ingredient `excluded`."""
    if excluded is not None:
        position = bisect.bisect_left(pool, excluded)
        if position < len(pool) and pool[position] == excluded and offset >= position:
            offset += 1
    return pool[offset]
