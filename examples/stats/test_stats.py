"""Properties and workloads for the stats example."""

import math

from hypothesis import given
from hypothesis import strategies as st

import stats

positive_lists = st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=30)


@given(positive_lists)
def test_mean_between_extremes(values):
    assert min(values) <= stats.mean(values) <= max(values)


@given(positive_lists)
def test_normalise_sums_to_one(values):
    scaled = stats.normalise(values)
    assert len(scaled) == len(values)
    assert math.isclose(sum(scaled), 1.0)
    for value, share in zip(values, scaled):
        assert math.isclose(share, value / sum(values))


@given(st.lists(st.integers(), max_size=30))
def test_running_max_is_prefix_maximum(values):
    result = stats.running_max(values)
    assert result == [max(values[: i + 1]) for i in range(len(values))]


@given(positive_lists, st.integers(min_value=1, max_value=10))
def test_histogram_counts_every_value(values, bins):
    counts = stats.histogram(values, bins)
    assert len(counts) == bins
    assert sum(counts) == len(values)


def test_known_values():
    assert stats.mean([1, 2, 3, 4]) == 2.5
    assert stats.normalise([1, 3]) == [0.25, 0.75]
    assert stats.running_max([3, 1, 4, 1, 5]) == [3, 3, 4, 4, 5]
    assert stats.histogram([1, 2, 3, 4], 2) == [2, 2]


def bench_normalise():
    stats.normalise(list(range(1, 400)))


def bench_running_max():
    stats.running_max([(i * 7919) % 1000 for i in range(2000)])
