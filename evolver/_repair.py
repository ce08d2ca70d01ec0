"""Repair mode: localise the fault of a failing original and weight its failing tests.

Before the search, the suite runs once on the original in a fresh sandbox with line
coverage of the target (`fitness.measure_coverage`). The tests that fail there are
the negative tests, and every covered line gets an Ochiai score (`fitness.ochiai`).
The plan that results is stored with the run's configuration, so a resumed run uses
the same plan instead of measuring again and replays exactly.

During the search the failures objective is weighted: each negative test that still
fails counts `repair_weight`, and each other test that fails counts 1. Operators
draw their sites in proportion to the score of the site's line plus a floor
(`genomes.LocationWeights`). The archive keeps the raw failure counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fitness import (
    Evaluation,
    EvaluationSettings,
    LineSuspiciousness,
    Suite,
    measure_coverage,
    ochiai,
)
from genomes import LocationWeights, Target
from sandbox import create_sandbox

from ._config import RunConfig

__all__ = ["SUSPICIOUS_LINES_SHOWN", "RepairPlan", "plan_repair"]

#: Suspicious lines listed in the run summary.
SUSPICIOUS_LINES_SHOWN = 5


@dataclass(frozen=True)
class RepairPlan:
    """The negative tests of a failing original, their weight and the line scores.

    `coverage_problem` gives the reason when the coverage could not be measured.
    There are no scores then, and the search draws sites uniformly.
    """

    negative_tests: tuple[str, ...]
    weight: int
    suspicious: tuple[LineSuspiciousness, ...]
    coverage_problem: str = ""

    def weighted_failures(self, evaluation: Evaluation) -> int:
        """Return the failures objective: `weight` per negative test still failing.

        Every other failing test, and every failing benchmark, counts 1. An
        evaluation without test results (an invalid variant) counts its raw
        failures times `weight`, more than any evaluation with results.
        """
        raw = evaluation.fitness.failures
        if not evaluation.tests:
            return raw * self.weight
        negative = set(self.negative_tests)
        failing = [test.name for test in evaluation.tests if not test.passed]
        weighted = sum(self.weight if name in negative else 1 for name in failing)
        return weighted + max(raw - len(failing), 0)

    def location_weights(self) -> LocationWeights | None:
        """Return the site weights for the search, or None to draw sites uniformly."""
        scores = {item.line: item.score for item in self.suspicious if item.score > 0}
        if not scores:
            return None
        return LocationWeights(scores)

    def to_json(self) -> dict:
        return {
            "negative_tests": list(self.negative_tests),
            "weight": self.weight,
            "suspicious": [item.to_json() for item in self.suspicious],
            "coverage_problem": self.coverage_problem,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> RepairPlan:
        return cls(
            negative_tests=tuple(data["negative_tests"]),
            weight=int(data["weight"]),
            suspicious=tuple(
                LineSuspiciousness.from_json(item) for item in data["suspicious"]
            ),
            coverage_problem=str(data.get("coverage_problem", "")),
        )

    def summary_json(self, target: Target) -> dict:
        """Describe the plan for a run summary, with the code of the top lines."""
        lines = target.source.splitlines()
        top = [item for item in self.suspicious if item.score > 0]
        shown = []
        for item in top[:SUSPICIOUS_LINES_SHOWN]:
            code = lines[item.line - 1].strip() if item.line <= len(lines) else ""
            shown.append(
                {**item.to_json(), "score": round(item.score, 4), "code": code}
            )
        return {
            "negative_tests": list(self.negative_tests),
            "weight": self.weight,
            "suspicious_lines": shown,
            "coverage_problem": self.coverage_problem,
        }

    def warnings(self, config: RunConfig) -> list[str]:
        """Return what limits the plan: no failing test, or no coverage."""
        if not self.negative_tests:
            return [
                (
                    f"The original {config.target} passes every test of "
                    f"{config.suite}, so --repair changes nothing: the run searches as "
                    "it would without it."
                )
            ]
        if self.coverage_problem:
            return [
                (
                    f"Fault localisation failed: {self.coverage_problem}. Edits are "
                    "drawn on every line alike."
                )
            ]
        return []


def plan_repair(config: RunConfig, target: Target, suite: Suite) -> RepairPlan:
    """Run the suite on the original with coverage and build the repair plan."""
    settings = EvaluationSettings(
        max_examples=config.max_examples, seed=config.seed, limits=config.limits
    )
    with create_sandbox(config.sandbox) as sandbox:
        coverage = measure_coverage(
            sandbox, target.source, target.module_name, suite, settings
        )
    negative = tuple(test.name for test in coverage.evaluation.tests if not test.passed)
    return RepairPlan(
        negative_tests=negative,
        weight=config.repair_weight,
        suspicious=ochiai(coverage.tests),
        coverage_problem=coverage.problem,
    )
