"""The suite, differential and limits checks of the canary gate, and what they share.

Every sandbox run here uses a sandbox created for that run alone and closed after
it, so no guest state carries over from the search or from another run of the gate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from fitness import (
    DifferentialSettings,
    Evaluation,
    EvaluationSettings,
    Suite,
    build_job,
    compare_replays,
    draw_inputs,
    replay_inputs,
    score,
)
from sandbox import Limits, Outcome, Result, create_sandbox

from ._canary_config import CanaryConfig
from ._canary_verdict import Check
from ._progress import format_count

__all__ = [
    "GateRequest",
    "SuiteRun",
    "check_differential",
    "check_limits",
    "check_suite",
    "run_suite",
]

#: Output below this many bytes counts as this many when the candidate's output is
#: compared with the original's, so printing one line where the original prints
#: nothing is not an infinite increase.
OUTPUT_FLOOR_BYTES = 1024

#: Inputs on which the original itself does not finish are dropped and the replay
#: is repeated without them, at most this many times, because each such run can
#: last up to the sandbox's limits.
MAX_DROPPED_INPUTS = 2

#: Sandbox outcomes that one input can cause, so that leaving it out may let the
#: original finish the others.
_INPUT_OUTCOMES = frozenset(
    outcome.value
    for outcome in (Outcome.FUEL, Outcome.TIMEOUT, Outcome.MEMORY, Outcome.TRAP)
)

#: Differences listed in full in a check's figures.
DIFFERENCES_SHOWN = 5


@dataclass(frozen=True)
class GateRequest:
    """What one gate compares, and how: the original, the candidate, and settings."""

    module_name: str
    original: str
    candidate: str
    edits: int
    suite: Suite
    #: The settings the search evaluated with: its examples, seed and limits.
    search: EvaluationSettings
    config: CanaryConfig
    sandbox: str
    seeds: tuple[int, ...]
    on_event: Callable[[str], None]
    #: The original fails tests and the candidate is meant to repair them.
    repair: bool = False

    @property
    def examples(self) -> int:
        return self.search.max_examples * self.config.examples_factor

    @property
    def limits(self) -> Limits:
        """The search's limits, with fuel and time scaled as the examples are."""
        factor = self.config.examples_factor
        limits = self.search.limits
        return replace(
            limits, fuel=limits.fuel * factor, wall_seconds=limits.wall_seconds * factor
        )

    def critical(self, name: str) -> bool:
        return name in self.config.critical


@dataclass(frozen=True)
class SuiteRun:
    """One fresh run of the suite, on the original or on the candidate."""

    seed: int
    result: Result
    evaluation: Evaluation


def run_suite(
    request: GateRequest, source: str, settings: EvaluationSettings, edits: int = 0
) -> SuiteRun:
    """Run the suite and its benchmarks on `source` in a new sandbox."""
    job = build_job(source, request.module_name, request.suite, settings)
    with create_sandbox(request.sandbox) as sandbox:
        result = sandbox.run(job)
    evaluation = score(result, request.suite, edits, job.report_key)
    return SuiteRun(settings.seed, result, evaluation)


def check_suite(request: GateRequest, runs: list[tuple[SuiteRun, SuiteRun]]) -> Check:
    """Fail if the candidate fails a test or stops early where the original does not."""
    figures = {"examples": request.examples, "seeds": list(request.seeds), "runs": []}
    problems = []
    for original, candidate in runs:
        figures["runs"].append(
            {
                "seed": original.seed,
                "original": _run_json(original),
                "candidate": _run_json(candidate),
            }
        )
        problems.extend(_regressions(request, original, candidate))

    critical = request.critical("suite")
    seeds = format_count(len(runs), "new seed")
    scope = f"{seeds} and {format_count(request.examples, 'example')} per test"
    unfinished = [o for o, _ in runs if o.evaluation.outcome != Outcome.OK.value]
    if unfinished:
        evaluation = unfinished[0].evaluation
        summary = (
            f"the original did not finish its suite with {scope} "
            f"({evaluation.outcome}), so nothing can be compared"
        )
        counterexample = (
            f"{evaluation.detail}. Raise the fuel or seconds limit of the run, or "
            "lower the [canary] examples_factor."
        )
        return Check("suite", "fail", critical, summary, figures, counterexample)
    if problems:
        summary = f"the candidate fails where the original passes, with {scope}"
        return Check("suite", "fail", critical, summary, figures, problems[0])
    summary = f"no test fails that the original passes, with {scope}"
    return Check("suite", "pass", critical, summary, figures)


def _regressions(
    request: GateRequest, original: SuiteRun, candidate: SuiteRun
) -> list[str]:
    examples = format_count(request.examples, "example")
    where = f"with seed {original.seed} and {examples} per test"
    # A repair must pass the tests the original fails too.
    failing = set()
    if not request.repair:
        failing = {test.name for test in original.evaluation.tests if not test.passed}
    problems = []
    for test in candidate.evaluation.tests:
        if not test.passed and test.name not in failing:
            text = f"{test.name} failed {where}: {test.error}"
            if test.counterexample:
                text += "\n" + test.counterexample
            problems.append(text)
    stopped = candidate.evaluation.outcome != Outcome.OK.value
    if stopped and original.evaluation.outcome == Outcome.OK.value:
        evaluation = candidate.evaluation
        problems.append(
            f"the candidate's sandbox ended with {evaluation.outcome} {where}: "
            f"{evaluation.detail}"
        )
    return problems


def _run_json(run: SuiteRun) -> dict:
    evaluation = run.evaluation
    cost = evaluation.fitness.cost
    return {
        "failures": evaluation.fitness.failures,
        "failing": [test.name for test in evaluation.tests if not test.passed],
        "outcome": evaluation.outcome,
        "cost": cost if math.isfinite(cost) else None,
        "benchmarks": evaluation.benchmarks,
        "output_bytes": _output_bytes(run.result),
        "wall_seconds": round(run.result.wall_seconds, 3),
    }


def check_differential(
    request: GateRequest, functions: tuple[str, ...], unchecked: dict[str, str]
) -> Check:
    """Compare the candidate's results with the original's on the same inputs."""
    critical = request.critical("differential")
    figures: dict = {"functions": list(functions), "unchecked": unchecked}
    if not functions:
        reasons = "; ".join(f"{name}: {why}" for name, why in unchecked.items())
        summary = "no changed function can be called with plain data"
        return Check(
            "differential", "skipped", critical, f"{summary} ({reasons})", figures
        )

    # The original of a repair is wrong on some inputs. Only the calls of tests it
    # passes show inputs where its results are known to be right. No inputs are
    # drawn from annotations, because an original that returns without raising may
    # still return the wrong value.
    settings = DifferentialSettings(
        seed=request.seeds[0],
        max_examples=request.examples,
        drawn_inputs=0 if request.repair else request.config.drawn_inputs,
        recorded_inputs=request.config.recorded_inputs,
        limits=request.limits,
        passing_tests_only=request.repair,
    )
    request.on_event("differential: drawing inputs on the original")
    with create_sandbox(request.sandbox) as sandbox:
        draw = draw_inputs(
            sandbox,
            request.original,
            request.module_name,
            request.suite,
            functions,
            settings,
        )
    figures["notes"] = list(draw.notes)
    figures["suite_inputs"] = sum(item.origin == "suite" for item in draw.inputs)
    figures["drawn_inputs"] = sum(item.origin == "drawn" for item in draw.inputs)
    if not draw.ok:
        summary = f"no inputs: drawing them on the original ended with {draw.outcome}"
        return Check("differential", "fail", critical, summary, figures, draw.detail)
    if not draw.inputs:
        summary = "neither the suite's calls nor the annotations gave inputs"
        return Check("differential", "skipped", critical, summary, figures)
    return _compare_on_inputs(request, list(draw.inputs), figures)


def _compare_on_inputs(request: GateRequest, inputs: list, figures: dict) -> Check:
    critical = request.critical("differential")
    limits = request.limits
    dropped = []
    figures["dropped"] = dropped
    while True:
        request.on_event(f"differential: {len(inputs)} inputs on the original")
        original = _replay(request, request.original, inputs, limits)
        if original.ok or None not in original.results:
            break
        if (
            original.outcome not in _INPUT_OUTCOMES
            or len(dropped) == MAX_DROPPED_INPUTS
        ):
            summary = f"the original did not finish its own inputs ({original.outcome})"
            return Check(
                "differential", "fail", critical, summary, figures, original.detail
            )
        stopped = original.results.index(None)
        dropped.append(f"{inputs[stopped].describe()}: {original.outcome}")
        del inputs[stopped]
    if not inputs:
        summary = "the original finished none of the inputs, so none was compared"
        return Check("differential", "skipped", critical, summary, figures)

    request.on_event(f"differential: {len(inputs)} inputs on the candidate")
    candidate = _replay(request, request.candidate, inputs, limits)
    differences = compare_replays(inputs, original, candidate)
    figures["compared"] = len(inputs)
    figures["differences"] = len(differences)
    figures["candidate_outcome"] = candidate.outcome
    figures["first_differences"] = [
        d.to_json() for d in differences[:DIFFERENCES_SHOWN]
    ]
    names = ", ".join(figures["functions"])
    if differences:
        counterexample = differences[0].describe()
        if differences[0].candidate is None:
            counterexample += (
                f" The sandbox ended with {candidate.outcome}: {candidate.detail}"
            )
        count = f"{len(differences)} of {len(inputs)}"
        summary = f"the candidate differs on {count} inputs to {names}"
        return Check("differential", "fail", critical, summary, figures, counterexample)
    summary = (
        f"the candidate matches the original on all {len(inputs)} inputs to {names}"
    )
    return Check("differential", "pass", critical, summary, figures)


def _replay(request: GateRequest, source: str, inputs: list, limits):
    with create_sandbox(request.sandbox) as sandbox:
        return replay_inputs(sandbox, source, request.module_name, inputs, limits)


def check_limits(request: GateRequest, runs: list[tuple[SuiteRun, SuiteRun]]) -> Check:
    """Fail if the candidate printed or used much more than the original."""
    critical = request.critical("limits")
    config = request.config
    output = {
        "original": max(_output_bytes(original.result) for original, _ in runs),
        "candidate": max(_output_bytes(candidate.result) for _, candidate in runs),
    }
    allowed_output = config.output_factor * max(output["original"], OUTPUT_FLOOR_BYTES)
    figures: dict = {"output_bytes": output, "allowed_output_bytes": allowed_output}
    problems = []
    if output["candidate"] > allowed_output:
        written, factor = output["candidate"], config.output_factor
        problems.append(
            f"the candidate wrote {written:,} bytes to stdout and stderr, more than "
            f"{factor:g} times the original's {output['original']:,}"
        )

    memory = {
        "original": _peak_memory(original.result for original, _ in runs),
        "candidate": _peak_memory(candidate.result for _, candidate in runs),
    }
    figures["memory_bytes"] = memory
    measured = memory["original"] is not None and memory["candidate"] is not None
    if not measured:
        figures["memory"] = "not measured: the sandbox reports no peak memory"
    elif memory["candidate"] > config.memory_factor * memory["original"]:
        problems.append(
            f"the candidate used {memory['candidate']:,} bytes of memory, more than "
            f"{config.memory_factor:g} times the original's {memory['original']:,}"
        )

    if problems:
        return Check(
            "limits", "fail", critical, problems[0], figures, "; ".join(problems)
        )
    written, original = output["candidate"], output["original"]
    summary = f"output {written:,} bytes against the original's {original:,}"
    if not measured:
        summary += "; memory not measured"
    return Check("limits", "pass", critical, summary, figures)


def _output_bytes(result: Result) -> int:
    return len(result.stdout) + len(result.stderr)


def _peak_memory(results) -> int | None:
    # NOTE: `Result` has no peak memory field yet. A sandbox that adds
    # `peak_memory_bytes` to its results turns this comparison on.
    peaks = [getattr(result, "peak_memory_bytes", None) for result in results]
    if any(peak is None for peak in peaks):
        return None
    return max(peaks)
