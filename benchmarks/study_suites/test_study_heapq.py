"""Suite for study_heapq, the pure-Python part of the standard library's heapq.

The oracles are `sorted`, the heap invariant and the guest's own `heapq` module,
whose functions are the C accelerator.
"""

import heapq as reference

from hypothesis import given
from hypothesis import strategies as st
from study_heapq import (
    heapify,
    heappop,
    heappush,
    heappushpop,
    heapreplace,
    nlargest,
    nsmallest,
)

numbers = st.lists(st.integers(min_value=-50, max_value=50), max_size=30)
counts = st.integers(min_value=-1, max_value=35)


def is_heap(heap):
    return all(heap[(i - 1) // 2] <= heap[i] for i in range(1, len(heap)))


def test_pop_from_empty_raises():
    try:
        heappop([])
    except IndexError:
        return
    raise AssertionError("heappop([]) did not raise IndexError")


def test_known_heap():
    heap = [5, 3, 8, 1, 9, 2]
    heapify(heap)
    assert heap == [1, 3, 2, 5, 9, 8]
    assert [heappop(heap) for _ in range(6)] == [1, 2, 3, 5, 8, 9]


@given(numbers)
def test_heapify_matches_reference(items):
    mine, theirs = list(items), list(items)
    heapify(mine)
    reference.heapify(theirs)
    assert is_heap(mine)
    assert mine == theirs


@given(numbers)
def test_push_then_pop_sorts(items):
    heap = []
    for item in items:
        heappush(heap, item)
        assert is_heap(heap)
    assert [heappop(heap) for _ in items] == sorted(items)


@given(numbers, st.integers(min_value=-60, max_value=60))
def test_pushpop_matches_reference(items, value):
    mine, theirs = list(items), list(items)
    reference.heapify(mine)
    reference.heapify(theirs)
    assert heappushpop(mine, value) == reference.heappushpop(theirs, value)
    assert mine == theirs


@given(numbers.filter(bool), st.integers(min_value=-60, max_value=60))
def test_replace_matches_reference(items, value):
    mine, theirs = list(items), list(items)
    reference.heapify(mine)
    reference.heapify(theirs)
    assert heapreplace(mine, value) == reference.heapreplace(theirs, value)
    assert mine == theirs


@given(numbers, counts)
def test_nsmallest_matches_sorted(items, count):
    assert nsmallest(count, items) == sorted(items)[: max(count, 0)]
    assert nsmallest(count, items, key=abs) == sorted(items, key=abs)[: max(count, 0)]


@given(numbers, counts)
def test_nlargest_matches_sorted(items, count):
    expected = sorted(items, reverse=True)[: max(count, 0)]
    assert nlargest(count, items) == expected
    by_key = sorted(items, key=abs, reverse=True)[: max(count, 0)]
    assert nlargest(count, items, key=abs) == by_key


def bench_heap_sort():
    items = [(i * 7919) % 1009 for i in range(3000)]
    heap = []
    for item in items:
        heappush(heap, item)
    while heap:
        heappop(heap)
    heapify(items)
    nsmallest(20, items)
    nlargest(20, items)
