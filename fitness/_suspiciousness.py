"""Spectrum-based fault localisation: the Ochiai suspiciousness of each line.

For a line s, let failed(s) and passed(s) be the numbers of failing and passing tests
that executed it, and total_failed the number of failing tests. Then

    ochiai(s) = failed(s) / sqrt(total_failed * (failed(s) + passed(s)))

Invariants:
- A score lies in [0, 1]. It is 1 exactly when every failing test and no passing test
  executed the line, and 0 when no failing test executed it.
- With no failing test the formula divides by zero; every line then scores 0, since
  nothing points at any line.
- Only lines that some test executed are scored; a line no test ran is absent, and
  callers treat it as 0.
- The result is ordered by score, highest first, then by line number, so equal
  inputs give equal output.

Cost: one pass over each test's lines, then a sort of the covered lines.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ._coverage import TestCoverage

__all__ = ["LineSuspiciousness", "ochiai"]


@dataclass(frozen=True)
class LineSuspiciousness:
    """The Ochiai score of one line, with the test counts it comes from."""

    line: int
    score: float
    failed: int
    passed: int

    def to_json(self) -> dict:
        return {
            "line": self.line,
            "score": self.score,
            "failed": self.failed,
            "passed": self.passed,
        }

    @classmethod
    def from_json(cls, data: dict) -> LineSuspiciousness:
        return cls(
            int(data["line"]),
            float(data["score"]),
            int(data["failed"]),
            int(data["passed"]),
        )


def ochiai(tests: Iterable[TestCoverage]) -> tuple[LineSuspiciousness, ...]:
    """Score every line that a test executed, the most suspicious first."""
    failed: Counter[int] = Counter()
    passed: Counter[int] = Counter()
    total_failed = 0
    for test in tests:
        counts = passed if test.passed else failed
        counts.update(test.lines)
        total_failed += not test.passed

    scores = []
    for line in set(failed) | set(passed):
        covering = failed[line] + passed[line]
        score = 0.0
        if total_failed and failed[line]:
            score = failed[line] / math.sqrt(total_failed * covering)
        scores.append(LineSuspiciousness(line, score, failed[line], passed[line]))
    scores.sort(key=lambda item: (-item.score, item.line))
    return tuple(scores)
