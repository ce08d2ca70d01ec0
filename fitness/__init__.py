"""Fitness: the suite format, the in-sandbox harness, scoring and differential tests."""

from . import codec
from ._coverage import Coverage, TestCoverage, measure_coverage
from ._differential import (
    CallInput,
    Difference,
    DifferentialSettings,
    InputDraw,
    Replay,
    compare_replays,
    draw_inputs,
    replay_inputs,
)
from ._evaluate import (
    RESERVED_MODULE_NAMES,
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
from ._suspiciousness import LineSuspiciousness, ochiai
from ._warm import warm_sandbox

__all__ = [
    "CallInput",
    "Coverage",
    "Difference",
    "DifferentialSettings",
    "Evaluation",
    "EvaluationSettings",
    "Fitness",
    "InputDraw",
    "LineSuspiciousness",
    "RESERVED_MODULE_NAMES",
    "Replay",
    "Suite",
    "SuiteError",
    "TestCoverage",
    "TestOutcome",
    "build_job",
    "codec",
    "compare_replays",
    "draw_inputs",
    "evaluate",
    "harness_source",
    "measure_coverage",
    "ochiai",
    "replay_inputs",
    "score",
    "warm_sandbox",
]
