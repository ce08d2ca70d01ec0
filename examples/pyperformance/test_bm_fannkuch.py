"""Suite for bm_fannkuch: the maximum pancake flip count over permutations of 0..n-1.

A flip reverses the first ``p[0] + 1`` items and is repeated until ``p[0] == 0``.
The oracles are the known maximum counts and a brute-force count over
itertools.permutations. Tests stay at n <= 7; the benchmark computes n = 8.
"""

import functools
import itertools

from hypothesis import given
from hypothesis import strategies as st

from bm_fannkuch import fannkuch

#: Maximum flip counts for n = 1..8. count_flips() over all permutations gives the
#: same values, and the tests recheck n <= 6 that way.
MAX_FLIPS = {1: 0, 2: 1, 3: 2, 4: 4, 5: 7, 6: 10, 7: 16, 8: 22}


def count_flips(permutation):
    """Return how many prefix reversals bring the item 0 to the front."""
    items = list(permutation)
    flips = 0
    while items[0] != 0:
        end = items[0] + 1
        items[:end] = reversed(items[:end])
        flips += 1
    return flips


def test_known_max_flips():
    counts = {size: fannkuch(size) for size in range(1, 8)}
    assert counts == {size: MAX_FLIPS[size] for size in range(1, 8)}


def test_repeated_calls_agree():
    assert [fannkuch(5) for _ in range(3)] == [MAX_FLIPS[5]] * 3


def test_count_flips_oracle():
    # The oracle itself, on a hand-checked case: 2,0,1 -> 1,0,2 -> 0,1,2.
    assert count_flips((2, 0, 1)) == 2


@functools.cache
def max_flips_by_brute_force(size):
    return max(count_flips(p) for p in itertools.permutations(range(size)))


@given(st.integers(min_value=1, max_value=6))
def test_matches_brute_force(size):
    assert fannkuch(size) == max_flips_by_brute_force(size)


def bench_fannkuch_eight():
    assert fannkuch(8) == MAX_FLIPS[8]
