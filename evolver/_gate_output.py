"""The gate's report as JSON, a terminal table, Markdown and JUnit XML."""

from __future__ import annotations

import math
import re
from typing import Any
from xml.etree import ElementTree

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._gate_compare import BenchmarkVerdict, GateReport, TargetVerdict, TestVerdict

_COLUMNS = (
    "target",
    "benchmark",
    "sandbox",
    "baseline",
    "current",
    "change",
    "allowed",
    "result",
)
_STYLES = {"regressed": "bold red", "not run": "red", "improved": "green", "ok": ""}


def report_json(report: GateReport) -> dict[str, Any]:
    """Return the report as JSON-compatible data, for `--json`."""
    return {
        "exit_code": report.exit_code,
        "result": summary_line(report),
        "mode": report.mode,
        "baseline": report.baseline,
        "written": report.written,
        "unrecorded": list(report.all_unrecorded),
        "targets": [_target_json(target) for target in report.targets],
    }


def summary_line(report: GateReport) -> str:
    """Say in one sentence whether the gate passed, and why not."""
    parts = [_why_broken(target) for target in report.targets if target.broken]
    if report.mode == "check":
        regressed = _changes(report, "regressed")
        if regressed:
            parts.append(f"regressed: {regressed}")
        if report.require_update and report.all_unrecorded:
            count = len(report.all_unrecorded)
            parts.append(
                f"{count} change{'s' if count != 1 else ''} not in the baseline"
            )
    if parts and report.mode == "update":
        return "Gate failed: " + "; ".join(parts) + ". The baseline was not written."
    if parts:
        return "Gate failed: " + "; ".join(parts) + "."
    if report.mode == "update":
        return f"Baseline written to {report.written}."
    count = len(report.targets)
    holding = "1 target holds" if count == 1 else f"{count} targets hold"
    improved = _changes(report, "improved")
    gains = f"; improved: {improved}" if improved else ""
    return f"Gate passed: {holding} against {report.baseline}{gains}."


def _why_broken(target: TargetVerdict) -> str:
    failed = [test.test for test in target.tests if test.status == "failed"]
    if target.outcome != "ok" or not failed:
        return f"{target.name}: {target.detail or 'the suite did not finish'}"
    return f"{target.name}: {', '.join(failed)} failed"


def _changes(report: GateReport, status: str) -> str:
    return ", ".join(
        f"{target.name}.{bench.benchmark} {format_change(bench.change)}"
        for target in report.targets
        for bench in target.benchmarks
        if bench.status == status
    )


def format_cost(value: float | None, meter: str) -> str:
    """Format a cost in its meter's unit: whole fuel, or seconds to four digits."""
    if value is None:
        return "-"
    if meter == "fuel":
        return f"{value:,.0f}"
    return f"{value:.4g} s"


def format_change(change: float | None) -> str:
    """Format a change in percent with its sign, e.g. +12.50%."""
    if change is None:
        return "-"
    if math.isinf(change):
        return "+inf%"
    return f"{change:+.2f}%"


def render_plain(report: GateReport) -> str:
    """Return the report as aligned plain text, for logs and pipes."""
    rows = [_COLUMNS] + [_row(t, b) for t in report.targets for b in t.benchmarks]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [f"evolver gate ({report.mode}), baseline: {report.baseline}"]
    if len(rows) > 1:
        lines += [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows
        ]
    lines += _notes(report)
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def render_rich(report: GateReport, console: Console) -> None:
    """Print the report as a table with colours, for a terminal."""
    heading = f"evolver gate ({report.mode}), baseline: {report.baseline}"
    console.print(heading, highlight=False, markup=False)
    rows = [(t, b) for t in report.targets for b in t.benchmarks]
    if rows:
        table = Table(*_COLUMNS)
        for target, bench in rows:
            cells = [Text(cell) for cell in _row(target, bench)]
            table.add_row(*cells, style=_STYLES.get(bench.status, ""))
        console.print(table)
    for line in _notes(report):
        console.print(line, highlight=False, markup=False)
    style = "bold red" if report.exit_code else "bold green"
    console.print(summary_line(report), style=style, highlight=False, markup=False)


def render_markdown(report: GateReport) -> str:
    """Return a summary fit for a pull-request comment or a CI job summary."""
    verdict = "failed" if report.exit_code else "passed"
    lines = [
        f"## evolver gate {verdict}",
        "",
        (
            f"{_escape(summary_line(report))} Baseline: {_escape(report.baseline)}. "
            f"Exit code {report.exit_code}."
        ),
        "",
    ]
    rows = [(t, b) for t in report.targets for b in t.benchmarks]
    if rows:
        lines.append("| " + " | ".join(_COLUMNS) + " |")
        lines.append("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
        for target, bench in rows:
            cells = [_escape(cell) for cell in _row(target, bench)]
            if bench.status in ("regressed", "not run"):
                cells[-1] = f"**{cells[-1]}**"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for target, test in _failing_tests(report):
        lines.append(f"### Failing test `{target.name}.{test.test}`")
        lines.append("")
        lines.append(_escape(test.error or "failed"))
        lines.append("")
        if test.counterexample:
            lines += [*_fence(test.counterexample), ""]
    for target in report.targets:
        if target.broken and target.detail:
            lines += [f"**{target.name}**: {_escape(target.detail)}", ""]
    notes = [w for t in report.targets for w in t.warnings]
    if report.mode == "check":
        notes += report.all_unrecorded
    if notes:
        lines += [f"- {_escape(note)}" for note in notes] + [""]
    return "\n".join(lines)


def render_junit(report: GateReport) -> str:
    """Return JUnit XML: per target a suite, with a case per benchmark and failing test.

    Each target also gets a case named "suite" that fails when the sandbox did not
    finish the suite or a benchmark raised, so that a target without benchmarks still
    shows up.
    """
    root = ElementTree.Element("testsuites", name="evolver gate")
    total = failures = 0
    for target in report.targets:
        suite = ElementTree.SubElement(
            root, "testsuite", name=f"evolver gate {target.name}"
        )
        cases = [_suite_case(report, target)]
        cases += [_benchmark_case(report, target, bench) for bench in target.benchmarks]
        cases += [
            _test_case(target, test) for test in target.tests if test.status == "failed"
        ]
        suite_failures = suite_skipped = 0
        for case in cases:
            suite.append(case)
            suite_failures += case.find("failure") is not None
            suite_skipped += case.find("skipped") is not None
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(suite_failures))
        suite.set("errors", "0")
        suite.set("skipped", str(suite_skipped))
        total += len(cases)
        failures += suite_failures
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _target_json(target: TargetVerdict) -> dict[str, Any]:
    return {
        "name": target.name,
        "backend": target.backend,
        "meter": target.meter,
        "outcome": target.outcome,
        "detail": target.detail,
        "passed": target.passed,
        "regressed": target.regressed,
        "warnings": list(target.warnings),
        "unrecorded": list(target.unrecorded),
        "tests": [vars(test) for test in target.tests],
        "benchmarks": [_benchmark_json(bench) for bench in target.benchmarks],
    }


def _benchmark_json(bench: BenchmarkVerdict) -> dict[str, Any]:
    change = bench.change
    data: dict[str, Any] = {
        "name": bench.benchmark,
        "status": bench.status,
        "meter": bench.meter,
        "baseline": bench.baseline,
        "current": bench.current,
        "change_percent": None if change is None or math.isinf(change) else change,
        "threshold_percent": bench.threshold,
        "improvement_percent": bench.improvement,
    }
    if bench.rank_test is not None:
        data["rank_test"] = vars(bench.rank_test)
    return data


def _row(target: TargetVerdict, bench: BenchmarkVerdict) -> tuple[str, ...]:
    result = bench.status
    if bench.rank_test is not None and bench.status in ("regressed", "improved", "ok"):
        side = (
            bench.rank_test.p_greater
            if bench.change and bench.change > 0
            else bench.rank_test.p_less
        )
        result += f" (p={side:.2g})"
    return (
        target.name,
        bench.benchmark,
        f"{target.backend} ({bench.meter})",
        format_cost(bench.baseline, bench.meter),
        format_cost(bench.current, bench.meter),
        format_change(bench.change),
        f"+{bench.threshold:g}%",
        result,
    )


def _notes(report: GateReport) -> list[str]:
    lines = []
    for target, test in _failing_tests(report):
        lines.append(f"FAILED {target.name}.{test.test}: {test.error or 'failed'}")
        lines += [f"    {line}" for line in test.counterexample.splitlines()]
    for target in report.targets:
        if target.broken and target.detail:
            lines.append(
                f"{target.name}: {target.detail} (sandbox outcome {target.outcome})"
            )
        lines += [f"Warning: {target.name}: {warning}" for warning in target.warnings]
    if report.mode == "check" and report.all_unrecorded:
        lines += [f"Not in the baseline: {note}" for note in report.all_unrecorded]
        lines.append("Record these changes with evolver gate --update-baseline.")
    return lines


def _failing_tests(report: GateReport) -> list[tuple[TargetVerdict, TestVerdict]]:
    return [
        (t, test) for t in report.targets for test in t.tests if test.status == "failed"
    ]


def _suite_case(report: GateReport, target: TargetVerdict) -> ElementTree.Element:
    """Build the case that fails when the suite did not finish or a benchmark raised.

    A failing test has its own case, so it does not fail this one as well. With
    `--require-update`, changes the baseline does not record fail this case too.
    """
    case = _case(target, "suite")
    failed_tests = any(test.status == "failed" for test in target.tests)
    stale = report.mode == "check" and report.require_update and target.unrecorded
    if target.broken and (target.outcome != "ok" or not failed_tests):
        message = target.detail or "the suite did not finish"
        failure = ElementTree.SubElement(case, "failure", message=message, type="suite")
        failure.text = f"sandbox outcome {target.outcome}: {message}"
    elif stale:
        message = "the baseline does not record these changes; run evolver gate "
        message += "--update-baseline"
        failure = ElementTree.SubElement(
            case, "failure", message=message, type="unrecorded"
        )
        failure.text = "\n".join(target.unrecorded)
    output = [*target.warnings]
    if report.mode == "check":
        output += target.unrecorded
    if output:
        ElementTree.SubElement(case, "system-out").text = "\n".join(output)
    return case


def _benchmark_case(
    report: GateReport, target: TargetVerdict, bench: BenchmarkVerdict
) -> ElementTree.Element:
    case = _case(target, bench.benchmark)
    base = format_cost(bench.baseline, bench.meter)
    now = format_cost(bench.current, bench.meter)
    text = (
        f"{bench.status}: {base} -> {now} {bench.meter}, change "
        f"{format_change(bench.change)}, allowed +{bench.threshold:g}%"
    )
    if bench.status == "not run":
        message = "not run, because the target failed before its benchmarks"
        ElementTree.SubElement(case, "skipped", message=message)
    elif bench.regressed and report.mode == "check":
        ElementTree.SubElement(
            case, "failure", message=text, type="regressed"
        ).text = text
    else:
        ElementTree.SubElement(case, "system-out").text = text
    return case


def _test_case(target: TargetVerdict, test: TestVerdict) -> ElementTree.Element:
    case = _case(target, test.test)
    message = test.error or "failed"
    failure = ElementTree.SubElement(case, "failure", message=message, type="test")
    failure.text = "\n".join(part for part in (message, test.counterexample) if part)
    return case


def _case(target: TargetVerdict, name: str) -> ElementTree.Element:
    return ElementTree.Element(
        "testcase", classname=f"evolver.gate.{target.name}", name=name
    )


def _escape(text: str) -> str:
    """Keep a table cell or a line of Markdown from being read as markup.

    Underscores stay: GitHub's Markdown does not emphasise inside words, so names
    such as bench_sort read as they are.
    """
    return re.sub(r"([\\|*`<>\[\]])", r"\\\1", text.replace("\n", " "))


def _fence(text: str) -> list[str]:
    """Wrap `text` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]
