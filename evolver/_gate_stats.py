"""The Mann-Whitney U test the gate applies to wall-clock samples, in pure Python.

Wall-clock timings are skewed and heavy-tailed (a busy neighbour adds a long delay,
never a negative one), so the gate compares two samples by ranks instead of means.
The test's statistic U counts, over every pair of one current and one baseline
sample, how often the current one is larger, a tie counting one half. Under the null
hypothesis that both samples come from one distribution, every assignment of the
pooled ranks to the two groups is equally likely, which gives U's distribution.

Invariants: `u` lies in [0, n1 * n2]; `effect` = 2 * u / (n1 * n2) - 1 lies in
[-1, 1] and is the rank-biserial correlation, +1 when every current sample is larger
than every baseline sample; `p_greater` and `p_less` are one-sided p-values in
(0, 1], and with no ties they satisfy p_greater + p_less = 1 + P(U = u).

Costs: ranking takes O(n log n) for n = n1 + n2 samples. Without ties and with
both samples of at most `EXACT_LIMIT` values the p-values are exact, from U's
distribution counted by dynamic programming in about (n1 * n2)**2 / 4 additions and
O(n1 * n2**2) memory. Otherwise they come from the normal approximation with
the tie correction of the variance and a continuity correction of one half, which
is accurate to about 0.01 for samples of ten or more.

A small p-value alone does not make a regression: the gate also requires the
median to move by more than its threshold, because with many repeats a shift far
below any user's concern becomes significant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: The largest sample, on either side, for which p-values are computed exactly.
#: At 30 against 30 the count takes about 200,000 additions, a few tens of ms.
EXACT_LIMIT = 30


@dataclass(frozen=True)
class RankTest:
    """The result of comparing a current sample with a baseline sample by ranks."""

    #: Pairs in which the current sample is larger, ties counting one half.
    u: float
    #: One-sided p-value of the alternative "current values tend to be larger".
    p_greater: float
    #: One-sided p-value of the alternative "current values tend to be smaller".
    p_less: float
    #: Rank-biserial correlation in [-1, 1]. Positive means current is slower.
    effect: float
    #: True when the p-values come from the exact distribution of U.
    exact: bool


def mann_whitney_u(current: Sequence[float], baseline: Sequence[float]) -> RankTest:
    """Compare two samples with the Mann-Whitney U test; both must be non-empty."""
    if not current or not baseline:
        raise ValueError(
            f"the rank test needs samples on both sides, got {len(current)} current "
            f"and {len(baseline)} baseline values"
        )
    n1, n2 = len(current), len(baseline)
    ranks, tie_sizes = _midranks([*current, *baseline])
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    effect = 2 * u / (n1 * n2) - 1

    ties = any(size > 1 for size in tie_sizes)
    if not ties and max(n1, n2) <= EXACT_LIMIT:
        counts = _u_distribution(n1, n2)
        total = math.comb(n1 + n2, n1)
        observed = round(u)
        p_greater = sum(counts[observed:]) / total
        p_less = sum(counts[: observed + 1]) / total
        return RankTest(u, p_greater, p_less, effect, exact=True)

    p_greater, p_less = _normal_p_values(u, n1, n2, tie_sizes)
    return RankTest(u, p_greater, p_less, effect, exact=False)


def smallest_p_value(n1: int, n2: int) -> float:
    """Return the smallest one-sided p-value that samples of these sizes can give."""
    return 1 / math.comb(n1 + n2, n1)


def _midranks(values: list[float]) -> tuple[list[float], list[int]]:
    """Rank `values` from 1, giving tied values the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_sizes = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = rank
        tie_sizes.append(end - start + 1)
        start = end + 1
    return ranks, tie_sizes


def _u_distribution(n1: int, n2: int) -> list[int]:
    """Count, for each u in 0..n1*n2, the rank assignments that give U = u.

    `row[j][u]` contains the count for samples of sizes i and j while i grows, using
    f(i, j, u) = f(i - 1, j, u - j) + f(i, j - 1, u): the largest pooled value
    belongs either to the first sample, and is larger than all j of the second, or
    to the second.
    """
    previous = [[1] for _ in range(n2 + 1)]  # i = 0: U is 0 whatever j is
    for i in range(1, n1 + 1):
        row = [[1]]  # j = 0: U is 0
        for j in range(1, n2 + 1):
            counts = [0] * (i * j + 1)
            for u, count in enumerate(previous[j]):
                counts[u + j] += count
            for u, count in enumerate(row[j - 1]):
                counts[u] += count
            row.append(counts)
        previous = row
    return previous[n2]


def _normal_p_values(
    u: float, n1: int, n2: int, tie_sizes: list[int]
) -> tuple[float, float]:
    n = n1 + n2
    tie_term = sum(size**3 - size for size in tie_sizes) / (n * (n - 1)) if n > 1 else 0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        # Every value is the same: nothing suggests a difference either way.
        return 1.0, 1.0
    mean = n1 * n2 / 2
    sigma = math.sqrt(variance)
    z_greater = (u - mean - 0.5) / sigma
    z_less = (u - mean + 0.5) / sigma
    return _upper_tail(z_greater), 1 - _upper_tail(z_less)


def _upper_tail(z: float) -> float:
    """Return P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))
