"""Minimising a genome: drop the edits that do not contribute to its fitness.

This is delta debugging (Zeller and Hildebrandt's ddmin) on the edit list.
The test that ddmin needs is "this subset is no worse than the whole
genome": `no_worse(evaluate(subset), reference)`, where `reference` is the
fitness of the input genome itself. ddmin splits the current genome into n
chunks and tries each chunk, then each complement (the genome without one
chunk). It keeps the first that passes, or doubles n, and stops when n has
reached the genome's length and nothing passes.

Invariants:
- Every subset keeps the edits' order in the input.
- The result is the input, or a subset that passed the test, so its
  fitness is never worse than the input's by `no_worse`.
- A result reached within the budget is 1-minimal: removing any one of its
  edits gives a subset that fails the test. ddmin guarantees this for two
  or more edits, because its last round tries every one-edit complement.
  For a single edit the empty genome is tried as well.

Cost: each distinct subset is evaluated once (results are cached by the set
of positions), at most about n² evaluations for n edits and far fewer when
most edits can go at once. `max_evaluations` caps the count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._edit import Edit, Genome
from ._errors import GenomeError

__all__ = ["Minimised", "minimise"]

F = TypeVar("F")


@dataclass(frozen=True)
class Minimised(Generic[F]):
    """The result of `minimise`.

    `evaluations` counts the calls of `evaluate`, the input's own included.
    `complete` is False when `max_evaluations` stopped the search early,
    so the edits may not be 1-minimal.
    """

    edits: Genome
    fitness: F
    evaluations: int
    complete: bool


def minimise(
    edits: Sequence[Edit],
    evaluate: Callable[[Genome], F],
    no_worse: Callable[[F, F], bool],
    max_evaluations: int | None = None,
) -> Minimised[F]:
    """Return a 1-minimal subset of `edits` whose fitness is no worse than theirs.

    `evaluate(genome)` computes a fitness. `no_worse(candidate, reference)`
    returns True when the candidate's fitness is at least as good as the
    reference's. Raises GenomeError when `max_evaluations` is below 1.
    """
    genome = tuple(edits)
    if max_evaluations is not None and max_evaluations < 1:
        raise GenomeError(
            f"max_evaluations must be 1 or more, got {max_evaluations}; pass None "
            "for no limit."
        )
    search = _Search(genome, evaluate, no_worse, max_evaluations)

    current = tuple(range(len(genome)))
    complete = True
    try:
        current = search.ddmin(current)
        if len(current) == 1 and search.passes(()):
            current = ()
    except _BudgetSpent:
        current = search.best
        complete = False

    fitness = search.cache[current]
    kept = tuple(genome[index] for index in current)
    return Minimised(kept, fitness, len(search.cache), complete)


class _BudgetSpent(Exception):
    """`max_evaluations` was reached before the search finished."""


class _Search(Generic[F]):
    def __init__(
        self,
        genome: Genome,
        evaluate: Callable[[Genome], F],
        no_worse: Callable[[F, F], bool],
        max_evaluations: int | None,
    ) -> None:
        self.genome = genome
        self.evaluate = evaluate
        self.no_worse = no_worse
        self.max_evaluations = max_evaluations
        self.cache: dict[tuple[int, ...], F] = {}
        everything = tuple(range(len(genome)))
        self.reference = self.fitness(everything)
        #: The smallest subset that passed so far, returned when the budget ends.
        self.best = everything

    def fitness(self, subset: tuple[int, ...]) -> F:
        if subset not in self.cache:
            limit = self.max_evaluations
            if limit is not None and len(self.cache) >= limit:
                raise _BudgetSpent
            self.cache[subset] = self.evaluate(tuple(self.genome[i] for i in subset))
        return self.cache[subset]

    def passes(self, subset: tuple[int, ...]) -> bool:
        passed = self.no_worse(self.fitness(subset), self.reference)
        if passed and len(subset) < len(self.best):
            self.best = subset
        return passed

    def ddmin(self, current: tuple[int, ...]) -> tuple[int, ...]:
        chunks = 2
        while len(current) >= 2:
            parts = _split(current, chunks)
            reduced = next((part for part in parts if self.passes(part)), None)
            if reduced is not None:
                current, chunks = reduced, 2
                continue
            # With two chunks each complement is the other chunk, tried above.
            complements = []
            if chunks > 2:
                complements = [
                    tuple(i for other in parts if other is not part for i in other)
                    for part in parts
                ]
            reduced = next((part for part in complements if self.passes(part)), None)
            if reduced is not None:
                current, chunks = reduced, max(chunks - 1, 2)
                continue
            if chunks >= len(current):
                break
            chunks = min(chunks * 2, len(current))
        return current


def _split(items: tuple[int, ...], chunks: int) -> list[tuple[int, ...]]:
    """Split `items` into `chunks` contiguous parts, sizes differing by at most 1."""
    size, extra = divmod(len(items), chunks)
    parts = []
    start = 0
    for index in range(chunks):
        end = start + size + (1 if index < extra else 0)
        parts.append(items[start:end])
        start = end
    return parts
