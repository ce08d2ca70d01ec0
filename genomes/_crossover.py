"""Crossover of two genomes, each a list of edits (a patch).

Genomes have different lengths, so each parent gets its own cut points:
- `one_point`: cut each parent once and exchange the tails,
  `a[:i] + b[j:]` and `b[:j] + a[i:]`;
- `two_point`: cut each parent twice and exchange the middles,
  `a[:i] + b[j:k] + a[l:]` and `b[:j] + a[i:l] + b[k:]`;
- `uniform`: send each edit of either parent to one child or the other
  with equal chance, edits of the first parent first, each in its order;
- `concatenation`: `a + b` and `b + a`.

Invariants: a child contains only edits of its parents, in their parents'
relative order. `one_point`, `two_point` and `uniform` send each of the
parents' edits to exactly one of the two children. `concatenation` gives
both children all of them. Duplicates stay: removing
them is the caller's choice, since applying an insertion twice inserts two
copies. Cost: linear in the parents' length.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ._edit import Edit, Genome
from ._errors import GenomeError

__all__ = ["CROSSOVERS", "crossover"]

#: The names `crossover` accepts.
CROSSOVERS = ("one_point", "two_point", "uniform", "concatenation")


def crossover(
    kind: str, rng: random.Random, first: Sequence[Edit], second: Sequence[Edit]
) -> tuple[Genome, Genome]:
    """Cross two genomes and return the two children.

    `kind` is one of `CROSSOVERS`. The same `rng` state gives the same
    children. Raises GenomeError for an unknown kind or a parent that is not
    a sequence of edits.
    """
    if kind not in CROSSOVERS:
        raise GenomeError(
            f"unknown crossover {kind!r}; the crossovers are: {', '.join(CROSSOVERS)}."
        )
    a = _genome(first, "first")
    b = _genome(second, "second")

    if kind == "one_point":
        i = rng.randint(0, len(a))
        j = rng.randint(0, len(b))
        return a[:i] + b[j:], b[:j] + a[i:]
    if kind == "two_point":
        i, k = sorted((rng.randint(0, len(a)), rng.randint(0, len(a))))
        j, m = sorted((rng.randint(0, len(b)), rng.randint(0, len(b))))
        return a[:i] + b[j:m] + a[k:], b[:j] + a[i:k] + b[m:]
    if kind == "uniform":
        sides = [rng.random() < 0.5 for _ in range(len(a) + len(b))]
        edits = a + b
        left = tuple(edit for edit, side in zip(edits, sides, strict=True) if side)
        right = tuple(edit for edit, side in zip(edits, sides, strict=True) if not side)
        return left, right
    return a + b, b + a


def _genome(parent: Sequence[Edit], which: str) -> Genome:
    if isinstance(parent, (str, bytes)) or not isinstance(parent, Sequence):
        raise GenomeError(
            f"the {which} parent must be a sequence of Edit objects, got "
            f"{type(parent).__name__}: {parent!r}."
        )
    for edit in parent:
        if not isinstance(edit, Edit):
            raise GenomeError(
                f"the {which} parent contains {edit!r}; a genome contains Edit objects."
            )
    return tuple(parent)
