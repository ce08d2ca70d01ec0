"""Crossover of edit lists: children are made of their parents' edits."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomes import CROSSOVERS, Edit, GenomeError, Target, crossover

FEW = settings(max_examples=60, deadline=None, database=None)

parents = st.lists(
    st.integers(0, 30).map(lambda number: Edit("delete_statement", f"body[{number}]")),
    max_size=8,
)


def is_subsequence(child: tuple[Edit, ...], parent: tuple[Edit, ...]) -> bool:
    remaining = iter(parent)
    return all(any(edit == other for other in remaining) for edit in child)


def tagged(edits: list[Edit], tag: str) -> tuple[Edit, ...]:
    """Make the edits of one parent distinguishable from the other's."""
    return tuple(
        Edit(edit.operator, edit.location, (tag, i)) for i, edit in enumerate(edits)
    )


def test_crossover_names():
    assert CROSSOVERS == ("one_point", "two_point", "uniform", "concatenation")


@FEW
@given(kind=st.sampled_from(CROSSOVERS), a=parents, b=parents, seed=st.integers(0, 99))
def test_children_only_parent_edits(kind, a, b, seed):
    first, second = tagged(a, "a"), tagged(b, "b")
    children = crossover(kind, random.Random(seed), first, second)
    assert len(children) == 2
    for child in children:
        assert isinstance(child, tuple)
        assert set(child) <= set(first) | set(second)
        # Each parent's edits keep their relative order in a child.
        assert is_subsequence(tuple(e for e in child if e.argument[0] == "a"), first)
        assert is_subsequence(tuple(e for e in child if e.argument[0] == "b"), second)


@FEW
@given(
    kind=st.sampled_from(["one_point", "two_point", "uniform"]),
    a=parents,
    b=parents,
    seed=st.integers(0, 99),
)
def test_children_split_parents(kind, a, b, seed):
    first, second = tagged(a, "a"), tagged(b, "b")
    left, right = crossover(kind, random.Random(seed), first, second)
    assert Counter(left) + Counter(right) == Counter(first) + Counter(second)


def test_concatenation_joins_both():
    a = (Edit("delete_statement", "body[0]"),)
    b = (Edit("delete_statement", "body[1]"), Edit("delete_statement", "body[2]"))
    assert crossover("concatenation", random.Random(0), a, b) == (a + b, b + a)


@FEW
@given(a=parents, b=parents, seed=st.integers(0, 99))
def test_one_point_exchanges_tails(a, b, seed):
    first, second = tagged(a, "a"), tagged(b, "b")
    left, right = crossover("one_point", random.Random(seed), first, second)
    cut_a = sum(1 for edit in left if edit.argument[0] == "a")
    cut_b = sum(1 for edit in right if edit.argument[0] == "b")
    assert left == first[:cut_a] + second[cut_b:]
    assert right == second[:cut_b] + first[cut_a:]


@FEW
@given(a=parents, b=parents, seed=st.integers(0, 99))
def test_two_point_exchanges_middles(a, b, seed):
    first, second = tagged(a, "a"), tagged(b, "b")
    left, right = crossover("two_point", random.Random(seed), first, second)
    cuts = [
        (i, k, j, m)
        for i in range(len(first) + 1)
        for k in range(i, len(first) + 1)
        for j in range(len(second) + 1)
        for m in range(j, len(second) + 1)
        if left == first[:i] + second[j:m] + first[k:]
        and right == second[:j] + first[i:k] + second[m:]
    ]
    assert cuts


def test_crossover_is_deterministic():
    a = tuple(Edit("x", f"a{i}") for i in range(6))
    b = tuple(Edit("x", f"b{i}") for i in range(6))
    for kind in CROSSOVERS:
        assert crossover(kind, random.Random(9), a, b) == crossover(
            kind, random.Random(9), a, b
        )


def test_children_of_real_genomes_apply():
    source = "def f(x):\n    y = x + 1\n    z = y * 2\n    return z - 3\n"
    target = Target.from_source(source)
    rng = random.Random(4)
    a = tuple(target.random_edit(rng) for _ in range(4))
    b = tuple(target.random_edit(rng) for _ in range(4))
    for kind in CROSSOVERS:
        for child in crossover(kind, rng, a, b):
            applied = target.apply(child)
            assert len(applied.applied) + len(applied.skipped) == len(child)


def test_crossover_rejects():
    edit = Edit("x", "body[0]")
    with pytest.raises(GenomeError, match="unknown crossover 'mix'; the crossovers"):
        crossover("mix", random.Random(0), (edit,), (edit,))
    with pytest.raises(GenomeError, match="the second parent contains 3"):
        crossover("uniform", random.Random(0), (edit,), (3,))
    with pytest.raises(GenomeError, match="the first parent must be a sequence"):
        crossover("uniform", random.Random(0), "body[0]", (edit,))
