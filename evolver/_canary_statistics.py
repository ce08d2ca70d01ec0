"""Statistics of the canary gate's cost check: Mann-Whitney U and Cliff's delta.

Wall-clock timings are noisy and rarely normal, so the gate compares the candidate's
timings with the original's by ranks, as asv and Kayenta do. The Mann-Whitney U test
tests whether one sample tends to be smaller than the other, and Cliff's delta and
the relative change of the medians measure by how much.

Invariants and costs:
- U counts, over all pairs (candidate x, original y), 1 for x > y and 1/2 for x == y,
  so U == 0 when every candidate timing is below every original timing, and
  Cliff's delta == 2 U / (n m) - 1.
- p-values use the normal approximation with the tie correction of the variance and
  a continuity correction of 1/2. It matches exact tables closely from about eight
  timings per side, and the configuration requires at least five.
- Ranking sorts the pooled timings once, O((n + m) log(n + m)). Cliff's delta
  compares every pair, O(n m), which is small for the repetitions a gate makes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MannWhitney",
    "TimingComparison",
    "cliffs_delta",
    "compare_timings",
    "mann_whitney_u",
]


@dataclass(frozen=True)
class MannWhitney:
    """The U statistic of a first sample against a second, and its p-values.

    `p_less` is the one-sided p-value of "the first sample tends to be smaller",
    `p_greater` of "it tends to be larger". Both are 1.0 when every value is tied.
    """

    u: float
    mean: float
    variance: float
    z: float
    p_less: float
    p_greater: float

    @property
    def p_two_sided(self) -> float:
        return min(1.0, 2 * min(self.p_less, self.p_greater))


# NOTE: evolver/_gate_stats.py computes the same U test, with exact p-values for
# small samples. The two should become one.
def mann_whitney_u(first: Sequence[float], second: Sequence[float]) -> MannWhitney:
    """Compute the Mann-Whitney U test of `first` against `second`.

    Both samples must be non-empty. `z` is reported without the continuity
    correction, and the p-values with it.
    """
    n, m = len(first), len(second)
    assert n > 0 and m > 0, "both samples need at least one value"
    ranks, tie_sizes = _ranks([*first, *second])
    u = sum(ranks[:n]) - n * (n + 1) / 2
    mean = n * m / 2
    total = n + m
    ties = sum(size**3 - size for size in tie_sizes)
    variance = n * m / 12 * ((total + 1) - ties / (total * (total - 1)))

    if variance <= 0:
        return MannWhitney(u, mean, 0.0, 0.0, 1.0, 1.0)
    sigma = math.sqrt(variance)
    z = (u - mean) / sigma
    p_less = _normal_cdf((u - mean + 0.5) / sigma)
    p_greater = 1 - _normal_cdf((u - mean - 0.5) / sigma)
    return MannWhitney(u, mean, variance, z, min(1.0, p_less), min(1.0, p_greater))


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Return the rank of each value (1-based, ties get their mean) and tie sizes."""
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
        if end > start:
            tie_sizes.append(end - start + 1)
        start = end + 1
    return ranks, tie_sizes


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def cliffs_delta(first: Sequence[float], second: Sequence[float]) -> float:
    """Return P(x > y) - P(x < y) over pairs of `first` and `second`, in [-1, 1].

    By the thresholds of Romano et al. (2006), as R's effsize package applies
    them, an absolute value below 0.147 is negligible, below 0.33 small, below
    0.474 medium, and large otherwise.
    """
    greater = sum(1 for x in first for y in second if x > y)
    less = sum(1 for x in first for y in second if x < y)
    return (greater - less) / (len(first) * len(second))


@dataclass(frozen=True)
class TimingComparison:
    """The candidate's timings against the original's, and the gate's reading of them.

    `median_change` is (candidate median - original median) / original median, so a
    faster candidate has a negative change. `status` is "pass", "marginal" or "fail".
    """

    status: str
    reason: str
    original_median: float
    candidate_median: float
    median_change: float
    cliffs_delta: float
    test: MannWhitney

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason,
            "original_median": self.original_median,
            "candidate_median": self.candidate_median,
            "median_change": round(self.median_change, 6),
            "cliffs_delta": round(self.cliffs_delta, 6),
            "u": self.test.u,
            "z": round(self.test.z, 6),
            "p_faster": round(self.test.p_less, 6),
            "p_slower": round(self.test.p_greater, 6),
        }


def compare_timings(
    original: Sequence[float],
    candidate: Sequence[float],
    *,
    min_improvement: float,
    alpha: float,
    min_effect: float,
) -> TimingComparison:
    """Decide whether the candidate's timings show a real speed-up.

    - pass: the candidate is faster at significance `alpha` (one-sided), its median
      is at least `min_improvement` (a fraction) lower, and Cliff's delta is at most
      `-min_effect`.
    - fail: the candidate is slower at significance `alpha`, or its median is not
      lower than the original's.
    - marginal: anything between, such as a faster median that the timings do not
      show with confidence.
    """
    test = mann_whitney_u(candidate, original)
    delta = cliffs_delta(candidate, original)
    before = statistics.median(original)
    after = statistics.median(candidate)
    change = (after - before) / before if before > 0 else 0.0

    def result(status: str, reason: str) -> TimingComparison:
        return TimingComparison(status, reason, before, after, change, delta, test)

    if test.p_greater < alpha:
        return result("fail", f"the candidate is slower (p = {test.p_greater:.3g})")
    if after >= before:
        return result("fail", "the candidate's median time is not lower")
    if test.p_less >= alpha:
        return result(
            "marginal",
            f"the speed-up is not significant (p = {test.p_less:.3g}, alpha = {alpha})",
        )
    if -change < min_improvement:
        return result(
            "marginal",
            f"the median is only {-change:.2%} lower, below the required "
            f"{min_improvement:.2%}",
        )
    if -delta < min_effect:
        return result(
            "marginal",
            f"Cliff's delta is {delta:.3f}, short of the required -{min_effect}",
        )
    return result("pass", f"the median is {-change:.2%} lower (p = {test.p_less:.3g})")
