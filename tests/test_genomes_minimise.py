"""Minimisation (ddmin) of genomes on fitness functions that can be computed here."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomes import Edit, GenomeError, Target, minimise

FEW = settings(max_examples=80, deadline=None, database=None)


def edits(count: int) -> tuple[Edit, ...]:
    return tuple(Edit("delete_statement", f"body[{i}]") for i in range(count))


def lower_is_better(candidate: int, reference: int) -> bool:
    return candidate <= reference


class Counting:
    """Wrap a fitness function and record every genome it was called with."""

    def __init__(self, function) -> None:
        self.function = function
        self.calls: list[tuple[Edit, ...]] = []

    def __call__(self, genome: tuple[Edit, ...]) -> int:
        self.calls.append(genome)
        return self.function(genome)


def arbitrary(seed: int, levels: int):
    """Return a fitness that gives every set of edits an unrelated value."""

    def fitness(genome: tuple[Edit, ...]) -> int:
        key = f"{seed}:{sorted(edit.location for edit in genome)}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % levels

    return fitness


@FEW
@given(size=st.integers(0, 9), seed=st.integers(0, 10**6), levels=st.integers(2, 6))
def test_never_worse_and_one_minimal(size, seed, levels):
    genome = edits(size)
    fitness = arbitrary(seed, levels)
    evaluate = Counting(fitness)

    result = minimise(genome, evaluate, lower_is_better)

    reference = fitness(genome)
    assert result.complete
    assert result.fitness == fitness(result.edits)
    assert lower_is_better(result.fitness, reference)
    # The result keeps the input's order.
    positions = [genome.index(edit) for edit in result.edits]
    assert positions == sorted(positions)
    # Removing any one remaining edit makes the fitness worse than the input's.
    for index in range(len(result.edits)):
        smaller = result.edits[:index] + result.edits[index + 1 :]
        assert not lower_is_better(fitness(smaller), reference), smaller
    # Every subset is evaluated once, and the count says how many were.
    assert len(evaluate.calls) == len(set(evaluate.calls)) == result.evaluations


def test_keeps_contributing_edits():
    genome = edits(8)
    needed = {genome[2], genome[5]}

    def missing(candidate: tuple[Edit, ...]) -> int:
        return len(needed - set(candidate))

    result = minimise(genome, missing, lower_is_better)
    assert result.edits == (genome[2], genome[5])
    assert result.fitness == 0
    assert result.evaluations < 2**8


def test_keeps_interacting_pair():
    genome = edits(6)

    def fitness(candidate: tuple[Edit, ...]) -> int:
        # Edits 1 and 4 only help together; edit 3 always hurts.
        together = genome[1] in candidate and genome[4] in candidate
        return (0 if together else 2) + (genome[3] in candidate)

    result = minimise(genome, fitness, lower_is_better)
    assert result.edits == (genome[1], genome[4])
    assert result.fitness == 0


def test_worse_subsets_keep_input():
    genome = edits(4)
    result = minimise(genome, lambda candidate: 4 - len(candidate), lower_is_better)
    assert result.edits == genome
    assert result.fitness == 0


def test_drops_everything_useless():
    result = minimise(edits(5), lambda candidate: 0, lower_is_better)
    assert result.edits == ()
    single = minimise(edits(1), lambda candidate: 0, lower_is_better)
    assert single.edits == ()
    assert single.evaluations == 2


def test_empty_genome_evaluated_once():
    result = minimise((), lambda candidate: 7, lower_is_better)
    assert result.edits == ()
    assert result.fitness == 7
    assert result.evaluations == 1


def test_budget_stops_early():
    genome = edits(9)
    fitness = arbitrary(11, 3)
    full = minimise(genome, fitness, lower_is_better)
    assert full.evaluations > 3
    capped = minimise(genome, Counting(fitness), lower_is_better, max_evaluations=3)
    assert not capped.complete
    assert capped.evaluations == 3
    assert lower_is_better(capped.fitness, fitness(genome))
    with pytest.raises(GenomeError, match="max_evaluations must be 1 or more, got 0"):
        minimise(genome, fitness, lower_is_better, max_evaluations=0)


def test_minimise_real_variants():
    source = "def f(x):\n    a = x * 2\n    b = 7\n    return a + 1\n"
    target = Target.from_source(source, path="f.py")
    needed = next(e for e in target.sites("binary_operator") if e.summary == "* -> +")
    dead = [e for e in target.sites("integer_constant") if e.line == 3][:2]
    genome = (dead[0], needed, dead[1])

    def distance(candidate: tuple[Edit, ...]) -> int:
        # The wanted variant computes x + 3; the edits of `b` change nothing.
        namespace: dict = {}
        exec(target.apply(candidate).source, namespace)
        return abs(namespace["f"](1) - 4) + abs(namespace["f"](5) - 8)

    assert distance(genome) == 0
    assert distance(()) == 4
    result = minimise(genome, distance, lower_is_better)
    assert result.edits == (needed,)
    assert result.fitness == 0
