"""The display of a run for people: progress, then a summary; silent with --json."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.syntax import Syntax
from rich.table import Table

from ._search import SearchStats


class RunDisplay:
    """A live progress bar on stderr and a summary on stdout."""

    def __init__(self, *, enabled: bool, budget: int) -> None:
        self.enabled = enabled
        self.budget = budget
        self.console = Console(stderr=True)
        self.out = Console()
        self._progress = Progress(
            TextColumn("gen {task.fields[generation]}"),
            BarColumn(),
            TextColumn("evaluations"),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} eval/s"),
            TextColumn("best {task.fields[best]}"),
            TextColumn("{task.fields[failures]}"),
            console=self.console,
            disable=not enabled,
        )
        # The budget counts the original's evaluation too, so a run makes at most
        # `budget` evaluations in all.
        self._task = self._progress.add_task(
            "run", total=budget, generation=0, rate="-", best="-", failures=""
        )

    def note(self, message: str) -> None:
        if self.enabled:
            self.console.print(f"[dim]{message}[/dim]")

    def warn(self, message: str) -> None:
        if self.enabled:
            self.console.print(f"[yellow]Warning: {message}[/yellow]", highlight=False)

    def __enter__(self) -> RunDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, kind: str, stats: SearchStats) -> None:
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - stats.started, 1e-9)
        best = "-"
        if stats.best is not None and stats.best.evaluation is not None:
            fitness = stats.best.evaluation.fitness
            best = f"{fitness.failures} fail, cost {_format_cost(fitness.cost)}"
        problems = {k: v for k, v in stats.outcomes.items() if k != "ok"}
        failures = ", ".join(f"{k} {v}" for k, v in sorted(problems.items()))
        self._progress.update(
            self._task,
            completed=stats.evaluations,
            generation=stats.generation,
            rate=f"{stats.evaluations / elapsed:.2f}",
            best=best,
            failures=failures,
        )

    def show_summary(self, summary: dict, file_name: str) -> None:
        self.out.print(_summary_line(summary), highlight=False)
        self.out.print(
            f"Stopped: {summary['stopped']} ({summary['stop_detail']})", highlight=False
        )
        for line in operator_lines(summary["operators"], summary["adapt_operators"]):
            self.out.print(line, highlight=False)
        self.out.print(f"Archive: {summary['archive']}", highlight=False)
        for warning in summary["warnings"]:
            self.out.print(f"[yellow]Warning: {warning}[/yellow]", highlight=False)
        if "repair" in summary:
            self._show_repair(summary["repair"], file_name)
        self.out.print(_candidate_table(summary))
        if not summary["best"]:
            self.out.print("No variant was evaluated.")
            return
        if not summary["improved"]:
            self.out.print(
                "No variant improved on the original: none has fewer failures, or as "
                "many failures and a cost more than 1% lower."
            )
            return
        best = next(entry for entry in summary["best"] if entry["improved"])
        self.out.print(f"Best candidate {best['candidate_id']}:")
        for line in best["edits_detail"]:
            self.out.print(f"  {line}", highlight=False)
        self.out.print(Syntax(best["diff"] or "(no change)", "diff", theme="ansi_dark"))
        self._show_gate(summary)

    def _show_repair(self, repair: dict, file_name: str) -> None:
        negative = ", ".join(repair["negative_tests"]) or "none"
        self.out.print(
            f"Repair: tests the original fails (each weighs {repair['weight']}): "
            f"{negative}",
            highlight=False,
        )
        if repair["suspicious_lines"]:
            self.out.print("Most suspicious lines (Ochiai):", highlight=False)
        for entry in repair["suspicious_lines"]:
            self.out.print(
                f"  {file_name}:{entry['line']}  {entry['score']:.3f}  "
                f"(failing {entry['failed']}, passing {entry['passed']})  "
                f"{entry['code']}",
                highlight=False,
                markup=False,
            )

    def _show_gate(self, summary: dict) -> None:
        gated = summary.get("gated", [])
        if not gated:
            return
        self.out.print("Canary gate (each finalist minimised, then re-evaluated afresh):")
        for entry in gated:
            verdict = "promoted" if entry["promoted"] else f"not promoted ({entry['verdict']})"
            self.out.print(
                f"  {entry['candidate_id']} from {entry['finalist']}: "
                f"{format_count(entry['edits'], 'edit')}, {verdict}: {entry['summary']}",
                highlight=False,
            )
        if summary["promoted"]:
            first = summary["promoted"][0]
            self.out.print(
                f"See it with `evolver show {first}`; take it as a patch with "
                f"`evolver export {first}` or as a branch with `evolver apply {first}`.",
                highlight=False,
            )


def _summary_line(summary: dict) -> str:
    evaluations = format_count(summary["evaluations"], "evaluation")
    variants = format_count(summary["evaluations"] - 1, "variant")
    generations = format_count(summary["generations"], "generation")
    duplicates = format_count(summary["duplicates"], "duplicate")
    invalid = format_count(summary["invalid"], "invalid variant")
    return (
        f"Run {summary['run_id']}: {evaluations} (the original and {variants}) in "
        f"{generations}, {summary['elapsed_seconds']} s; skipped {duplicates} and "
        f"{invalid}"
    )


def _candidate_table(summary: dict) -> Table:
    original = summary["original"]
    table = Table(title="Original and best candidates")
    columns = ("candidate", "failures", f"cost ({original['meter']})", "vs original")
    for column in (*columns, "edits"):
        table.add_column(column)
    table.add_row(
        "original", str(original["failures"]), _format_cost(original["cost"]), "", "0"
    )
    for entry in summary["best"]:
        table.add_row(
            entry["candidate_id"],
            str(entry["failures"]),
            _format_cost(entry["cost"]),
            _ratio(entry["cost"], original["cost"]),
            str(entry["edits"]),
        )
    return table


def format_count(number: int, noun: str) -> str:
    """Write a count with its noun, singular for 1: "1 duplicate", "2 duplicates"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _format_cost(cost: float | None) -> str:
    if cost is None or cost == float("inf"):
        return "-"
    if cost >= 1e6:
        return f"{cost / 1e6:,.1f}M"
    return f"{cost:,.4g}"


def _ratio(cost: float | None, original: float | None) -> str:
    if not cost or not original:
        return "-"
    return f"{(cost - original) / original:+.1%}"


#: Operators listed by the terminal report; `--json` lists every operator used.
OPERATORS_SHOWN = 5


def operator_lines(operators: list[dict], adapted: bool) -> list[str]:
    """Describe the operators that made the most children, for the terminal."""
    if not operators:
        return []
    heading = "Operators (adapted probabilities):" if adapted else "Operators:"
    lines = [heading]
    for entry in operators[:OPERATORS_SHOWN]:
        lines.append(
            f"  {entry['operator']}: {entry['improvements']} of "
            f"{entry['uses']} {'child' if entry['uses'] == 1 else 'children'} beat "
            "their parent, "
            f"next draw {entry['probability']:.1%}"
        )
    if len(operators) > OPERATORS_SHOWN:
        lines.append(f"  and {len(operators) - OPERATORS_SHOWN} more (see --json)")
    return lines
