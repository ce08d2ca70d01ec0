"""Moving one statement to another place in the mutable region.

A destination is a place between statements: before any statement of a
block, or after the last statement of a block. Destinations are listed in
the order of `Analysis.statements`, each "before" place followed by the
"after" place when the statement ends its block.

The statements inside a statement follow it directly in that order. So the
places that would move a statement into itself, or leave it where it is,
form one run of destinations. The run goes from the place before the
statement to the place before its next sibling. Counting and sampling skip
it with two bisections, so a statement's sites are never built one by one.

Cost: one pass over the statements for the runs, and one list of
destinations for each distinct set of scope needs (at most 16).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._address import is_within
from ._analysis import Analysis, Needs, StatementSite
from ._edit import Edit
from ._operator_base import BaseStatementOperator, BlockSlots

__all__ = ["MoveStatement"]

_BEFORE = "before"
_AFTER = "after"


@dataclass(frozen=True)
class _Places:
    """The destinations of a target and, for each statement, its own run of them."""

    destinations: tuple[tuple[StatementSite, str], ...]
    index: dict[tuple[str, str], int]
    #: For the statement at each position of `Analysis.statements`, the first
    #: destination of its run and the first one after it.
    runs: tuple[tuple[int, int], ...]
    position: dict[str, int]


class MoveStatement(BaseStatementOperator):
    """Move one statement of the mutable region, with its comments, to another place.

    Applies to every statement of the mutable region and every place there
    before a statement or after the last statement of a block, in a scope
    where the statement compiles. Places inside the statement itself and
    the two places that leave it where it is are left out. The argument is
    the pair (address of the statement next to the place, "before" or
    "after").
    """

    name = "move_statement"
    level = "statement"
    removes_location = True

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        site = analysis.statement_by_address.get(edit.location)
        argument = edit.argument
        if site is None or not isinstance(argument, tuple) or len(argument) != 2:
            return None
        places = _places(analysis)
        destination = places.index.get(argument)
        if destination is None:
            return None
        start, end = places.runs[places.position[site.address]]
        target, _ = places.destinations[destination]
        if start <= destination < end:
            return None
        if not target.scope.allows(_needs(analysis, site)):
            return None
        return (site.address, target.address)

    def blocks(self, analysis: Analysis, edit: Edit) -> tuple[str, ...]:
        source = analysis.statement_by_address[edit.location].block
        target = analysis.statement_by_address[edit.argument[0]].block
        return (source,) if source == target else (source, target)

    def rewrite_block(self, edit: Edit, analysis: Analysis, slots: BlockSlots) -> None:
        site = analysis.statement_by_address[edit.location]
        target = analysis.statement_by_address[edit.argument[0]]
        if slots.address == site.block:
            del slots.entries[slots.position(site.index)]
        if slots.address == target.block:
            if edit.argument[1] == _BEFORE:
                position = slots.position(target.index)
                slots.entries.insert(position, (None, site.node))
            else:
                slots.insert_after(target.index, site.node)

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        places = _places(analysis)
        locations = []
        for position, site in enumerate(analysis.statements):
            pool = _pool(analysis, places, _needs(analysis, site))
            low, high = _skipped(pool, places.runs[position])
            locations.append(((site, pool, low, high), len(pool) - (high - low)))
        return locations

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site, pool, low, high = location
        chosen = pool[offset if offset < low else offset + high - low]
        target, where = _places(analysis).destinations[chosen]
        summary = f"move {where} line {target.line}"
        return Edit(
            self.name,
            site.address,
            (target.address, where),
            line=site.line,
            summary=summary,
        )


def _needs(analysis: Analysis, site: StatementSite) -> Needs:
    return analysis.ingredients[site.ingredient].needs


def _skipped(pool: Sequence[int], run: tuple[int, int]) -> tuple[int, int]:
    """Return the range of positions in `pool` whose destinations lie in `run`."""
    return bisect.bisect_left(pool, run[0]), bisect.bisect_left(pool, run[1])


def _pool(analysis: Analysis, places: _Places, needs: Needs) -> tuple[int, ...]:
    key = ("move destinations", needs)
    pool = analysis.cache.get(key)
    if pool is None:
        pool = tuple(
            index
            for index, (site, _) in enumerate(places.destinations)
            if site.scope.allows(needs)
        )
        analysis.cache[key] = pool
    return pool


def _places(analysis: Analysis) -> _Places:
    places = analysis.cache.get("move places")
    if places is None:
        places = _build_places(analysis.statements)
        analysis.cache["move places"] = places
    return places


def _build_places(statements: Sequence[StatementSite]) -> _Places:
    last_in_block: dict[str, int] = {}
    for site in statements:
        last_in_block[site.block] = max(site.index, last_in_block.get(site.block, -1))

    destinations: list[tuple[StatementSite, str]] = []
    first_destination: list[int] = []
    for site in statements:
        first_destination.append(len(destinations))
        destinations.append((site, _BEFORE))
        if last_in_block[site.block] == site.index:
            destinations.append((site, _AFTER))
    first_destination.append(len(destinations))

    runs = []
    for position, end in enumerate(_subtree_ends(statements)):
        site = statements[position]
        stop = first_destination[end]
        # The place before the next sibling leaves the statement where it is.
        if end < len(statements) and statements[end].block == site.block:
            stop += 1
        runs.append((first_destination[position], stop))

    return _Places(
        destinations=tuple(destinations),
        index={
            (site.address, where): i for i, (site, where) in enumerate(destinations)
        },
        runs=tuple(runs),
        position={site.address: i for i, site in enumerate(statements)},
    )


def _subtree_ends(statements: Sequence[StatementSite]) -> list[int]:
    """Return, for each statement, the position just after the statements inside it."""
    ends = [len(statements)] * len(statements)
    open_positions: list[int] = []
    for position, site in enumerate(statements):
        while open_positions and not is_within(
            site.address, statements[open_positions[-1]].address
        ):
            ends[open_positions.pop()] = position
        open_positions.append(position)
    return ends
