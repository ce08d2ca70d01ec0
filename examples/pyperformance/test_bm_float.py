"""Suite for bm_float: build points from sin and cos, normalise them, take the maximum.

The oracle recomputes each point with the same floating-point operations in the
same order, so results must match exactly. Stored values that come from sin and
cos are compared with a relative tolerance of 1e-12 instead, because another C
library may round those functions differently from the one that produced them.
"""

import math

from hypothesis import given
from hypothesis import strategies as st

from bm_float import Point, benchmark, maximize

#: Results of benchmark(n) with CPython 3.11 on x86-64 Linux (glibc). The
#: sandbox's CPython 3.12 for WASI gives the same values.
KNOWN_MAXIMA = {
    2: (0.4523282790448403, 1.0, 0.1903105612121614),
    3: (0.5687182384518353, 1.0, 0.25856701540654414),
    1000: (0.8943675385681149, 1.0, 0.44717950831719694),
    30000: (0.8944159662581473, 1.0, 0.4472071813590117),
}

#: Relative tolerance for stored values, for the reason in the module docstring.
LIBM_TOLERANCE = 1e-12

coordinates = st.floats(allow_nan=False)
triples = st.tuples(coordinates, coordinates, coordinates)


def normalized_point(i):
    """Return the coordinates of Point(i) after normalize(), computed directly."""
    x = math.sin(i)
    y = math.cos(i) * 3
    z = (x * x) / 2
    norm = math.sqrt(x * x + y * y + z * z)
    return (x / norm, y / norm, z / norm)


def make_point(x, y, z):
    point = Point(0)
    point.x, point.y, point.z = x, y, z
    return point


def coordinates_of(point):
    return (point.x, point.y, point.z)


def is_close(actual, expected):
    return all(
        math.isclose(a, e, rel_tol=LIBM_TOLERANCE) for a, e in zip(actual, expected)
    )


def test_point_at_zero():
    assert coordinates_of(Point(0)) == (0.0, 3.0, 0.0)


def test_point_repr():
    assert repr(Point(0)) == "<Point: x=0.0, y=3.0, z=0.0>"


def test_normalize_at_zero():
    point = Point(0)
    point.normalize()
    assert coordinates_of(point) == (0.0, 1.0, 0.0)


def test_benchmark_of_one_point():
    assert coordinates_of(benchmark(1)) == (0.0, 1.0, 0.0)


def test_known_maxima():
    for count in (2, 3, 1000):
        actual = coordinates_of(benchmark(count))
        assert is_close(actual, KNOWN_MAXIMA[count]), (count, actual)


@given(st.floats(min_value=-1e6, max_value=1e6))
def test_point_matches_oracle(i):
    x = math.sin(i)
    point = Point(i)
    assert coordinates_of(point) == (x, math.cos(i) * 3, (x * x) / 2)
    point.normalize()
    assert coordinates_of(point) == normalized_point(i)


@given(triples, triples)
def test_point_maximize(first, second):
    result = make_point(*first).maximize(make_point(*second))
    assert coordinates_of(result) == tuple(map(max, first, second))


@given(st.lists(triples, min_size=1, max_size=20))
def test_maximize_matches_oracle(points):
    result = maximize([make_point(*point) for point in points])
    assert coordinates_of(result) == tuple(max(values) for values in zip(*points))


@given(st.integers(min_value=1, max_value=300))
def test_benchmark_matches_oracle(count):
    points = [normalized_point(i) for i in range(count)]
    expected = tuple(max(values) for values in zip(*points))
    assert coordinates_of(benchmark(count)) == expected


def bench_thirty_thousand_points():
    assert is_close(coordinates_of(benchmark(30000)), KNOWN_MAXIMA[30000])
