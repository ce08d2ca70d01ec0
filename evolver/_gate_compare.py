"""Comparing measured targets with their baseline: the gate's verdicts.

A failing test, or a suite the sandbox did not finish, always fails its target,
whatever the baseline records. A benchmark fails when its cost grew by more than its
threshold, in percent of the baseline cost. With the fuel meter that is the whole
rule, because fuel is deterministic. With a wall-clock meter the growth of the
median must also be significant: the Mann-Whitney U test of the current samples
against the baseline samples must give a one-sided p-value below `alpha`. A gain
beyond the improvement threshold (with the same significance rule) is reported, and
counts as a change the baseline does not record, as do new and removed tests,
benchmarks and targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from statistics import median

from ._gate_baseline import Measurement
from ._gate_config import GateConfig, GateTarget
from ._gate_errors import GATE_OK, GATE_REGRESSED, GateError
from ._gate_stats import RankTest, mann_whitney_u


@dataclass(frozen=True)
class BenchmarkVerdict:
    """One benchmark of one target against its baseline.

    `status` is one of: ok, regressed, improved, new (no baseline cost), removed (in
    the baseline, not in the suite) and not run (the target failed first).
    """

    benchmark: str
    status: str
    meter: str
    baseline: float | None
    current: float | None
    #: Change of the cost in percent of the baseline cost, or None without both.
    change: float | None
    #: Allowed regression in percent.
    threshold: float
    #: Gain in percent beyond which an improvement is reported.
    improvement: float
    #: The rank test of the samples, with a wall-clock meter only.
    rank_test: RankTest | None = None

    @property
    def regressed(self) -> bool:
        return self.status == "regressed"


@dataclass(frozen=True)
class TestVerdict:
    """One test of one target.

    `status` is one of: passed, failed, new (passes, not in the baseline) and removed
    (in the baseline, not in the suite).
    """

    test: str
    status: str
    error: str = ""
    counterexample: str = ""


@dataclass(frozen=True)
class TargetVerdict:
    """Everything the gate found for one target."""

    name: str
    backend: str
    meter: str
    outcome: str
    detail: str
    tests: tuple[TestVerdict, ...]
    benchmarks: tuple[BenchmarkVerdict, ...]
    #: Differences between how the baseline and the current figures were produced.
    warnings: tuple[str, ...]
    #: Changes the baseline does not record, one sentence each.
    unrecorded: tuple[str, ...]
    #: True when the sandbox finished the suite and every test and benchmark passed.
    passed: bool

    @property
    def broken(self) -> bool:
        """True when a test failed, a benchmark raised or the suite did not finish."""
        return not self.passed

    @property
    def regressed(self) -> bool:
        """True when a benchmark costs more than its threshold allows."""
        return any(bench.regressed for bench in self.benchmarks)


@dataclass(frozen=True)
class GateReport:
    """The gate's verdicts on every target, and the exit code they give."""

    #: Either "check", which compares with a baseline, or "update", which records one.
    mode: str
    #: Source of the baseline: a file path or a git revision.
    baseline: str
    targets: tuple[TargetVerdict, ...]
    #: Changes the baseline records that the configuration no longer produces.
    unrecorded: tuple[str, ...] = ()
    require_update: bool = False
    #: The baseline file written in update mode, or None.
    written: str | None = None

    @property
    def all_unrecorded(self) -> tuple[str, ...]:
        own = tuple(item for target in self.targets for item in target.unrecorded)
        return own + self.unrecorded

    @property
    def exit_code(self) -> int:
        if any(target.broken for target in self.targets):
            return GATE_REGRESSED
        if self.mode == "update":
            return GATE_OK
        if any(target.regressed for target in self.targets):
            return GATE_REGRESSED
        if self.require_update and self.all_unrecorded:
            return GATE_REGRESSED
        return GATE_OK


def compare(
    config: GateConfig,
    baseline: Mapping[str, Measurement],
    current: Mapping[str, Measurement],
    *,
    baseline_label: str,
    mode: str = "check",
    require_update: bool = False,
    compared_on_this_machine: bool = False,
    missing_reasons: Mapping[str, str] | None = None,
) -> GateReport:
    """Judge every configured target's measurement against its baseline.

    `compared_on_this_machine` is true when `--baseline-ref` measured both sides just
    now. Without it, wall-clock figures get a warning that the baseline may come from
    another machine. `missing_reasons` maps a target name to the reason why that
    target has no baseline.
    """
    verdicts = []
    for target in config.targets:
        verdict = _judge_target(
            config,
            target,
            current[target.name],
            baseline.get(target.name),
            compared_on_this_machine,
        )
        reason = (missing_reasons or {}).get(target.name)
        if reason is not None:
            note = f"Target {target.name} has no baseline: {reason}."
            verdict = replace(verdict, unrecorded=(note,))
        verdicts.append(verdict)
    configured = {target.name for target in config.targets}
    dropped = tuple(
        f"The baseline has target {name}, which the configuration no longer lists."
        for name in sorted(set(baseline) - configured)
    )
    return GateReport(
        mode=mode,
        baseline=baseline_label,
        targets=tuple(verdicts),
        unrecorded=dropped,
        require_update=require_update,
    )


def percent_change(current: float, baseline: float) -> float:
    """Return the change from `baseline` to `current` in percent of `baseline`."""
    if baseline == 0:
        return 0.0 if current == 0 else math.inf
    return (current - baseline) / baseline * 100


def _judge_target(
    config: GateConfig,
    target: GateTarget,
    measured: Measurement,
    recorded: Measurement | None,
    same_machine: bool,
) -> TargetVerdict:
    if recorded is not None and recorded.meter != measured.meter:
        raise GateError(
            f"The baseline of target {target.name} was measured in {recorded.meter} "
            f"by the {recorded.backend} sandbox, but the gate now measures "
            f"{measured.meter} with the {measured.backend} sandbox, and the two do not "
            "compare. Record a new baseline with evolver gate --update-baseline, or "
            "pass --baseline-ref REF."
        )
    tests = _judge_tests(measured, recorded)
    benchmarks = _judge_benchmarks(config, target, measured, recorded)
    unrecorded = _unrecorded(target.name, tests, benchmarks, recorded)
    warnings = _warnings(measured, recorded, same_machine)
    return TargetVerdict(
        name=target.name,
        backend=measured.backend,
        meter=measured.meter,
        outcome=measured.outcome,
        detail=measured.detail,
        tests=tests,
        benchmarks=benchmarks,
        warnings=warnings,
        unrecorded=unrecorded,
        passed=measured.passed,
    )


def _judge_tests(
    measured: Measurement, recorded: Measurement | None
) -> tuple[TestVerdict, ...]:
    known = {test.name for test in recorded.tests} if recorded is not None else None
    verdicts = []
    for test in measured.tests:
        if not test.passed:
            status = "failed"
        elif known is not None and test.name not in known:
            status = "new"
        else:
            status = "passed"
        verdicts.append(TestVerdict(test.name, status, test.error, test.counterexample))
    present = {test.name for test in measured.tests}
    for name in sorted((known or set()) - present):
        verdicts.append(TestVerdict(name, "removed"))
    return tuple(verdicts)


def _judge_benchmarks(
    config: GateConfig,
    target: GateTarget,
    measured: Measurement,
    recorded: Measurement | None,
) -> tuple[BenchmarkVerdict, ...]:
    previous = dict(recorded.benchmarks) if recorded is not None else {}
    meter = measured.meter
    if not measured.passed:
        # The harness runs benchmarks only once every test passed.
        return tuple(
            _verdict(config, target, meter, name, "not run", base=median(samples))
            for name, samples in previous.items()
        )

    verdicts = []
    for name, samples in measured.benchmarks.items():
        cost = measured.cost(name)
        if name not in previous:
            verdicts.append(_verdict(config, target, meter, name, "new", now=cost))
            continue
        verdicts.append(
            _compare_costs(config, target, meter, name, samples, previous[name])
        )
    for name, samples in previous.items():
        if name not in measured.benchmarks:
            base = median(samples)
            verdicts.append(_verdict(config, target, meter, name, "removed", base=base))
    return tuple(verdicts)


def _compare_costs(
    config: GateConfig,
    target: GateTarget,
    meter: str,
    name: str,
    samples: tuple[float, ...],
    baseline_samples: tuple[float, ...],
) -> BenchmarkVerdict:
    now, base = median(samples), median(baseline_samples)
    change = percent_change(now, base)
    rank_test = (
        mann_whitney_u(samples, baseline_samples) if meter == "seconds" else None
    )
    threshold = config.threshold_for(target, name, meter)
    improvement = config.improvement_for(meter)
    status = _classify(change, threshold, improvement, rank_test, config.alpha)
    return BenchmarkVerdict(
        benchmark=name,
        status=status,
        meter=meter,
        baseline=base,
        current=now,
        change=change,
        threshold=threshold,
        improvement=improvement,
        rank_test=rank_test,
    )


def _verdict(
    config: GateConfig,
    target: GateTarget,
    meter: str,
    name: str,
    status: str,
    base: float | None = None,
    now: float | None = None,
) -> BenchmarkVerdict:
    """Build the verdict of a benchmark that has a cost on one side only."""
    return BenchmarkVerdict(
        benchmark=name,
        status=status,
        meter=meter,
        baseline=base,
        current=now,
        change=None,
        threshold=config.threshold_for(target, name, meter),
        improvement=config.improvement_for(meter),
    )


def _classify(
    change: float,
    threshold: float,
    improvement: float,
    rank_test: RankTest | None,
    alpha: float,
) -> str:
    slower = rank_test is None or rank_test.p_greater < alpha
    faster = rank_test is None or rank_test.p_less < alpha
    if change > threshold and slower:
        return "regressed"
    if change < -improvement and faster:
        return "improved"
    return "ok"


def _unrecorded(
    name: str,
    tests: tuple[TestVerdict, ...],
    benchmarks: tuple[BenchmarkVerdict, ...],
    recorded: Measurement | None,
) -> tuple[str, ...]:
    if recorded is None:
        return (f"Target {name} has no baseline.",)
    notes = []
    for bench in benchmarks:
        if bench.status == "improved":
            gain = abs(bench.change or 0.0)
            notes.append(
                f"{name}.{bench.benchmark} is {gain:.2f}% cheaper than its baseline, "
                f"beyond the {bench.improvement:g}% improvement threshold."
            )
        elif bench.status == "new":
            notes.append(f"{name}.{bench.benchmark} has no baseline cost.")
        elif bench.status == "removed":
            notes.append(
                f"{name}.{bench.benchmark} is in the baseline but not in the suite."
            )
    for test in tests:
        if test.status == "new":
            notes.append(f"{name}.{test.test} passes but is not in the baseline.")
        elif test.status == "removed":
            notes.append(f"{name}.{test.test} is in the baseline but not in the suite.")
    return tuple(notes)


def _warnings(
    measured: Measurement, recorded: Measurement | None, same_machine: bool
) -> tuple[str, ...]:
    if recorded is None:
        return ()
    notes = []
    pairs = (
        ("evolver version", recorded.evolver, measured.evolver),
        ("sandbox backend", recorded.backend, measured.backend),
        ("interpreter", _describe_runtime(recorded), _describe_runtime(measured)),
        ("target file", recorded.target, measured.target),
        ("suite file", recorded.suite, measured.suite),
        ("max_examples", recorded.max_examples, measured.max_examples),
        ("seed", recorded.seed, measured.seed),
    )
    for what, before, now in pairs:
        if before != now:
            notes.append(
                f"The baseline was measured with {what} {before}, the current figures "
                f"with {now}; costs may differ for that reason alone."
            )
    if measured.meter == "seconds" and not same_machine:
        notes.append(
            "Wall-clock figures from a baseline file may come from another machine or "
            "load; pass --baseline-ref REF to measure both sides here, interleaved."
        )
    return tuple(notes)


def _describe_runtime(measurement: Measurement) -> str:
    runtime = measurement.runtime
    if not runtime:
        return "(not recorded)"
    return ", ".join(f"{key} {runtime[key]}" for key in sorted(runtime))
