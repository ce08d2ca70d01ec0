"""Tests of grades.py: the two about `count_above` fail on the original."""

from hypothesis import given
from hypothesis import strategies as st

import grades

marks = st.integers(min_value=0, max_value=100)


@given(st.lists(marks, min_size=1))
def test_mean_lies_between_extremes(values):
    assert min(values) <= grades.mean(values) <= max(values)


@given(st.lists(marks, min_size=1))
def test_median_splits_the_grades(values):
    middle = grades.median(values)
    below = sum(1 for value in values if value < middle)
    above = sum(1 for value in values if value > middle)
    assert below <= len(values) // 2
    assert above <= len(values) // 2


@given(st.lists(marks), marks)
def test_count_above_matches_a_filter(values, threshold):
    expected = len([value for value in values if value > threshold])
    assert grades.count_above(values, threshold) == expected


def test_count_above_leaves_out_the_threshold():
    assert grades.count_above([50, 60, 70], 60) == 1
