"""The cost check of the canary gate: exact for fuel, a rank test for seconds."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from ._canary_checks import GateRequest, SuiteRun, run_suite
from ._canary_statistics import compare_timings
from ._canary_verdict import Check

__all__ = ["check_cost"]


def check_cost(request: GateRequest, runs: list[tuple[SuiteRun, SuiteRun]]) -> Check:
    """Require the configured cost improvement: exact for fuel, tested for seconds."""
    critical = request.critical("cost")
    meter = runs[0][0].result.meter
    figures: dict = {"meter": meter, "min_improvement": request.config.min_improvement}
    if not request.suite.benchmarks:
        summary = (
            "the suite defines no bench_* workload, so there is no cost to compare"
        )
        return Check("cost", "skipped", critical, summary, figures)
    if any(not math.isfinite(original.evaluation.fitness.cost) for original, _ in runs):
        summary = "the original has no cost, because it does not pass its suite"
        return Check("cost", "skipped", critical, summary, figures)
    if meter == "fuel":
        return _fuel_cost(request, runs, figures)
    if any(not candidate.evaluation.passed for _, candidate in runs):
        summary = "not timed, because the candidate does not pass its suite"
        return Check("cost", "fail", critical, summary, figures)
    return _timed_cost(request, figures)


def _fuel_cost(request: GateRequest, runs, figures: dict) -> Check:
    critical = request.critical("cost")
    before = statistics.median(original.evaluation.fitness.cost for original, _ in runs)
    costs = [candidate.evaluation.fitness.cost for _, candidate in runs]
    figures["original"] = before
    if not all(math.isfinite(cost) for cost in costs):
        summary = "the candidate has no cost, because it does not pass its suite"
        return Check("cost", "fail", critical, summary, figures)
    after = statistics.median(costs)
    improvement = (before - after) / before
    figures.update(candidate=after, improvement=round(improvement, 6))
    figures["benchmarks"] = {
        "original": runs[0][0].evaluation.benchmarks,
        "candidate": runs[0][1].evaluation.benchmarks,
    }

    minimum = request.config.min_improvement
    text = (
        f"{after:,.0f} fuel against the original's {before:,.0f} ({-improvement:+.2%})"
    )
    if improvement >= minimum:
        return Check("cost", "pass", critical, f"the benchmarks used {text}", figures)
    counterexample = (
        f"the benchmarks used {text}, short of the required {minimum:.2%} less"
    )
    summary = (
        f"fuel changed by {-improvement:+.2%}, short of the required {minimum:.2%} less"
    )
    return Check("cost", "fail", critical, summary, figures, counterexample)


def _timed_cost(request: GateRequest, figures: dict) -> Check:
    critical = request.critical("cost")
    settings = replace(request.search, seed=request.seeds[0])
    timings: dict[str, list[float]] = {"original": [], "candidate": []}
    for repetition in range(request.config.repetitions):
        # Alternating the order cancels drift that favours whichever side runs first.
        order = (
            ("original", "candidate")
            if repetition % 2 == 0
            else ("candidate", "original")
        )
        for side in order:
            request.on_event(f"cost: repetition {repetition + 1}, {side}")
            if side == "original":
                run = run_suite(request, request.original, settings)
            else:
                run = run_suite(request, request.candidate, settings, request.edits)
            timings[side].append(run.evaluation.fitness.cost)
    figures["timings"] = timings
    if not all(
        math.isfinite(value) for value in timings["original"] + timings["candidate"]
    ):
        summary = (
            "a timed run did not pass the suite, so the timings cannot be compared"
        )
        return Check("cost", "fail", critical, summary, figures)

    comparison = compare_timings(
        timings["original"],
        timings["candidate"],
        min_improvement=request.config.min_improvement,
        alpha=request.config.alpha,
        min_effect=request.config.min_effect,
    )
    figures.update(comparison.to_json())
    counterexample = "" if comparison.status == "pass" else comparison.reason
    return Check(
        "cost", comparison.status, critical, comparison.reason, figures, counterexample
    )
