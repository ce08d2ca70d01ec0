"""Print the repair and speed tables of the search study as Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print `rows` under `headers` as a Markdown table, one row per line."""
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        print("| " + " | ".join(_cell(value) for value in row) + " |")


def print_repair_table(rows: Sequence[dict]) -> None:
    """Print one row per strategy: bugs, repaired, correct, evaluations, time."""
    print("\nrepair table")
    headers = (
        "strategy",
        "bugs",
        "repaired",
        "correct",
        "unchecked",
        "failed runs",
        "median evaluations to repair",
        "wall time (s)",
    )
    print_table(
        headers,
        [
            (
                row["strategy"],
                row["bugs"],
                row["repaired"],
                row["correct"],
                row["unchecked"],
                row["failed_runs"],
                row["median_evaluations"],
                row["seconds"],
            )
            for row in rows
        ],
    )


def print_speed_table(records: Sequence[dict]) -> None:
    """Print one row per program and strategy: fuel reduction and promotion."""
    print("\nspeed table")
    headers = (
        "program",
        "strategy",
        "evaluations",
        "original fuel",
        "best passing fuel",
        "reduction",
        "promoted",
        "promoted reduction",
        "wall time (s)",
    )
    ordered = sorted(
        records, key=lambda record: (record["program"], record["strategy"])
    )
    print_table(
        headers,
        [
            (
                record["program"],
                record["strategy"],
                record["evaluations"],
                record["original_cost"],
                record["best_cost"],
                _percent(record["reduction"]),
                "yes" if record["promoted"] else "no",
                _percent(record["promoted_reduction"]),
                record["seconds"]
                if not record["error"]
                else f"{record['seconds']} (failed)",
            )
            for record in ordered
        ],
    )


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.1f}%"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
