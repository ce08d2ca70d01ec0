"""Fitness: the suite format, the in-sandbox harness, scoring and differential tests."""

from . import codec
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
from ._warm import warm_sandbox

__all__ = [
    "CallInput",
    "Difference",
    "DifferentialSettings",
    "Evaluation",
    "EvaluationSettings",
    "Fitness",
    "InputDraw",
    "Replay",
    "Suite",
    "SuiteError",
    "TestOutcome",
    "build_job",
    "codec",
    "compare_replays",
    "draw_inputs",
    "evaluate",
    "harness_source",
    "replay_inputs",
    "score",
    "warm_sandbox",
]
