"""Fitness: the suite format, the in-sandbox harness and scoring."""

from ._evaluate import (
    Evaluation,
    EvaluationSettings,
    Fitness,
    TestOutcome,
    build_job,
    evaluate,
    harness_source,
    score,
)
from ._suite import Suite, SuiteError

__all__ = [
    "Evaluation",
    "EvaluationSettings",
    "Fitness",
    "Suite",
    "SuiteError",
    "TestOutcome",
    "build_job",
    "evaluate",
    "harness_source",
    "score",
]
