"""Suite for study_bisect, the pure-Python part of the standard library's bisect.

The reference is the guest's own `bisect` module, whose functions are the C
accelerator. Lists stay short so that one example costs well under a millisecond.
"""

import bisect as reference

from hypothesis import given
from hypothesis import strategies as st
from study_bisect import bisect_left, bisect_right, insort_left, insort_right

sorted_lists = st.lists(st.integers(min_value=-20, max_value=20), max_size=25).map(
    sorted
)
values = st.integers(min_value=-25, max_value=25)


def test_known_positions():
    items = [1, 2, 2, 2, 3, 5]
    assert bisect_left(items, 2) == 1
    assert bisect_right(items, 2) == 4
    assert bisect_left(items, 4) == 5
    assert bisect_right(items, 0) == 0
    assert bisect_left(items, 9) == 6


def test_negative_lo_raises():
    for function in (bisect_left, bisect_right, insort_left, insort_right):
        try:
            function([1, 2], 1, -1)
        except ValueError:
            continue
        raise AssertionError(f"{function.__name__} accepted lo=-1")


@given(sorted_lists, values)
def test_bisect_left_matches_reference(items, value):
    assert bisect_left(items, value) == reference.bisect_left(items, value)


@given(sorted_lists, values)
def test_bisect_right_matches_reference(items, value):
    assert bisect_right(items, value) == reference.bisect_right(items, value)


@given(sorted_lists, values, st.data())
def test_bounds_match_reference(items, value, data):
    lo = data.draw(st.integers(min_value=0, max_value=len(items)))
    hi = data.draw(st.integers(min_value=lo, max_value=len(items)))
    assert bisect_left(items, value, lo, hi) == reference.bisect_left(
        items, value, lo, hi
    )
    assert bisect_right(items, value, lo, hi) == reference.bisect_right(
        items, value, lo, hi
    )


@given(sorted_lists, values)
def test_key_matches_reference(items, value):
    pairs = [(item, -item) for item in items]
    for name in ("bisect_left", "bisect_right"):
        mine = {"bisect_left": bisect_left, "bisect_right": bisect_right}[name]
        expected = getattr(reference, name)(pairs, value, key=lambda pair: pair[0])
        assert mine(pairs, value, key=lambda pair: pair[0]) == expected


@given(sorted_lists, values)
def test_insort_left_matches_reference(items, value):
    mine, theirs = [(item, "old") for item in items], [(item, "old") for item in items]
    insort_left(mine, (value, "new"), key=lambda pair: pair[0])
    reference.insort_left(theirs, (value, "new"), key=lambda pair: pair[0])
    assert mine == theirs


@given(sorted_lists, values)
def test_insort_right_matches_reference(items, value):
    mine, theirs = [(item, "old") for item in items], [(item, "old") for item in items]
    insort_right(mine, (value, "new"), key=lambda pair: pair[0])
    reference.insort_right(theirs, (value, "new"), key=lambda pair: pair[0])
    assert mine == theirs


@given(sorted_lists, values)
def test_insort_keeps_order(items, value):
    for function in (insort_left, insort_right):
        copy = list(items)
        function(copy, value)
        assert copy == sorted(items + [value])


def bench_bisect():
    items = list(range(0, 4000, 2))
    for value in range(-10, 4010, 3):
        bisect_left(items, value)
        bisect_right(items, value)
    for value in range(200):
        insort_left(items, value)
        insort_right(items, value)
