"""Suite for bm_nqueens: a brute-force N-queens solver over its own permutations().

The oracles are itertools.permutations, a pairwise check of the queens and the
known solution counts. Boards stay at N <= 6 in tests so that one example costs
a few milliseconds. The benchmark solves N = 0..7 and lists the 6-permutations
of 8 items.
"""

import functools
import itertools

from hypothesis import given
from hypothesis import strategies as st

from bm_nqueens import n_queens, permutations

#: Number of solutions of the N-queens problem for N = 0..7, where the empty
#: board counts as one solution.
SOLUTION_COUNTS = (1, 1, 0, 0, 2, 10, 4, 40)


@functools.cache
def solve_by_brute_force(size):
    """Return every placement of ``size`` queens, in lexicographic order."""
    return [
        columns
        for columns in itertools.permutations(range(size))
        if all(
            abs(columns[row] - columns[other]) != other - row
            for row in range(size)
            for other in range(row + 1, size)
        )
    ]


def test_solution_counts():
    counts = [len(list(n_queens(size))) for size in range(7)]
    assert counts == list(SOLUTION_COUNTS[:7])


def test_four_queens():
    assert list(n_queens(4)) == [(1, 3, 0, 2), (2, 0, 3, 1)]


def test_six_queens():
    assert list(n_queens(6)) == [
        (1, 3, 5, 0, 2, 4),
        (2, 5, 1, 4, 0, 3),
        (3, 0, 4, 1, 5, 2),
        (4, 2, 0, 5, 3, 1),
    ]


def test_empty_board():
    assert list(n_queens(0)) == [()]


@given(st.integers(min_value=0, max_value=6))
def test_solutions_match_brute_force(size):
    assert list(n_queens(size)) == solve_by_brute_force(size)


def test_permutations_docstring_example():
    expected = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert list(permutations(range(3), 2)) == expected


def test_permutations_reads_iterator_once():
    assert list(permutations(iter("abc"))) == list(itertools.permutations("abc"))


def test_permutations_is_lazy():
    # 20! tuples could never be built, so this fails unless values are generated
    # one at a time.
    assert next(permutations(range(20))) == tuple(range(20))


# Lengths above the pool size are left out: itertools yields nothing there,
# while this permutations() yields one tuple and then raises IndexError.
@given(st.lists(st.integers(min_value=-3, max_value=3), max_size=6), st.data())
def test_permutations_match_itertools(pool, data):
    length = data.draw(st.none() | st.integers(min_value=0, max_value=len(pool)))
    assert list(permutations(pool, length)) == list(
        itertools.permutations(pool, length)
    )


@given(st.text(alphabet="abcdef", max_size=4))
def test_permutations_of_text(pool):
    assert list(permutations(pool)) == list(itertools.permutations(pool))


def bench_queens_and_permutations():
    counts = [len(list(n_queens(size))) for size in range(8)]
    assert counts == list(SOLUTION_COUNTS)
    # n_queens() never asks for partial permutations, so list all 8!/2! of them.
    arrangements = list(permutations(range(8), 6))
    assert len(arrangements) == 20160
    assert arrangements[-1] == (7, 6, 5, 4, 3, 2)
