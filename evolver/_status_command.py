"""`evolver status`: the progress of a run, read from its archive.

The archive is opened read-only, so status can be asked while a run in another
process writes: SQLite's WAL mode lets a reader see the generations committed so far.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from archive import Archive, ArchiveError, CandidateRecord, OperatorStatsRecord, RunRecord

from ._config import CONFIG_FILE, build_config, find_config_file, read_config_file
from ._errors import EXIT_OK, ConfigError
from ._progress import format_count, operator_lines
from ._budget import STOP_MESSAGES
from ._run_command import _process_exists, operator_report

STATUS_EXAMPLES = """\
examples:
  evolver status                       (the newest run of ./evolver.toml's archive)
  evolver status examples/stats
  evolver status --run-dir runs 3f2a9c1d --json
  evolver status examples/stats --all
"""


def add_status_parser(commands, epilog: str) -> None:
    status = commands.add_parser(
        "status",
        help="show the progress of a run, also while it runs",
        description=(
            "Show how far a run has got: its status, generations and evaluations "
            "against its budget, the best candidate so far and how evaluations ended. "
            "The archive is only read, so this works while the run goes on in another "
            "terminal."
        ),
        epilog=STATUS_EXAMPLES + "\n" + epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument(
        "location",
        nargs="?",
        type=Path,
        help="a folder with evolver.toml or pyproject.toml, or such a file (default: .)",
    )
    status.add_argument("run", nargs="?", help="the run id (default: the newest run)")
    status.add_argument("--run-dir", type=Path, help="the folder that contains the archive")
    status.add_argument("--all", action="store_true", help="list every run of the archive")
    status.add_argument("--json", action="store_true", help="print one JSON object")


def status_command(arguments) -> int:
    path = _archive_path(arguments)
    if not path.is_file():
        raise ConfigError(
            f"There is no archive at {path}: no run has been started there yet. Start "
            "one with `evolver run`, or pass --run-dir with the folder of another run."
        )
    try:
        archive = Archive.open(path, readonly=True)
    except ArchiveError as error:
        raise ConfigError(str(error)) from error
    with archive:
        if arguments.all:
            report = {"archive": str(path), "runs": [_brief(run) for run in archive.runs()]}
        else:
            run = _choose(archive, arguments.run, path)
            candidates = archive.candidates(run.run_id)
            operator_stats = archive.operator_stats(run.run_id)
            report = {"archive": str(path), **describe_run(run, candidates, operator_stats)}
    if arguments.json:
        print(json.dumps(report, indent=2))
    elif arguments.all:
        _print_runs(report)
    else:
        _print_run(report)
    return EXIT_OK


def _archive_path(arguments) -> Path:
    location = arguments.location
    if location is not None and not location.exists() and arguments.run is None:
        # A single positional argument that is no path is the run id.
        arguments.run, location = str(location), None
    if arguments.run_dir is not None:
        return arguments.run_dir.resolve() / "archive.sqlite"
    location = location or Path.cwd()
    if not location.exists():
        raise ConfigError(
            f"{location} does not exist. Give the folder of a run's configuration, "
            "or pass --run-dir."
        )
    config_file = find_config_file(location)
    if config_file is None:
        raise ConfigError(
            f"{location} contains no {CONFIG_FILE} or pyproject.toml to find the archive "
            "by. Name the folder of the run's configuration, or pass --run-dir."
        )
    values = read_config_file(config_file)
    config = build_config(values, {}, config_file.parent, str(config_file))
    return config.archive_path


def _choose(archive: Archive, requested: str | None, path: Path) -> RunRecord:
    if requested:
        try:
            return archive.run(requested)
        except ArchiveError as error:
            raise ConfigError(str(error)) from error
    run = archive.latest_run()
    if run is None:
        raise ConfigError(f"The archive {path} contains no run yet. Start one with `evolver run`.")
    return run


def describe_run(
    run: RunRecord,
    candidates: list[CandidateRecord],
    operator_stats: Sequence[OperatorStatsRecord] = (),
) -> dict:
    """Return the JSON-compatible progress of a run from its archived candidates.

    `operators` totals the stored operator statistics, with each operator's
    probability after the last stored generation.
    """
    evaluated = [c for c in candidates if c.outcome != "invalid"]
    original = next((c for c in evaluated if c.generation == 0), None)
    variants = [c for c in evaluated if c.generation > 0]
    passing = [c for c in variants if c.failures == 0 and c.outcome == "ok"]
    best = min(passing, key=lambda c: (c.cost if c.cost is not None else math.inf, c.edits), default=None)
    outcomes: dict[str, int] = {}
    for candidate in candidates:
        outcomes[candidate.outcome] = outcomes.get(candidate.outcome, 0) + 1
    last_write = max((c.created for c in candidates), default=run.created)
    return {
        **_brief(run),
        "budget": run.config.get("budget"),
        "generations": max((c.generation for c in evaluated), default=-1) + 1,
        "evaluations": len(evaluated),
        "invalid": len(candidates) - len(evaluated),
        "outcomes": outcomes,
        "original_cost": _finite(original.cost) if original else None,
        "best": None if best is None else {
            "candidate_id": best.candidate_id,
            "generation": best.generation,
            "cost": _finite(best.cost),
            "edits": best.edits,
        },
        "seconds_since_last_generation": round(time.time() - last_write, 1),
        "stopped": run.summary.get("stopped"),
        "adapt_operators": run.config.get("adapt_operators", False),
        "operators": operator_report(_operator_totals(operator_stats)),
    }


def _operator_totals(records: Sequence[OperatorStatsRecord]) -> dict[str, dict]:
    totals: dict[str, dict] = {}
    for record in records:
        total = totals.setdefault(
            record.operator, {"uses": 0, "improvements": 0, "probability": 0.0}
        )
        total["uses"] += record.uses
        total["improvements"] += record.improvements
        total["probability"] = record.probability
    return totals


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _brief(run: RunRecord) -> dict:
    process = run.summary.get("_process", run.config.get("_process")) or {}
    status = run.status
    if status == "running":
        if process.get("host") not in (None, socket.gethostname()):
            status = f"running on host {process.get('host')}"
        elif not _process_exists(process.get("pid")):
            status = "running (process gone)"
    return {
        "run_id": run.run_id,
        "status": status,
        "target": run.target_path,
        "seed": run.seed,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.created)),
    }


def _print_run(report: dict) -> None:
    out = Console()
    budget = report["budget"]
    out.print(f"Run {report['run_id']} of {report['target']}: {report['status']}", highlight=False)
    saved = report["generations"]
    generations = "no generation" if saved == 0 else f"generations 0 to {saved - 1}"
    invalid = report["invalid"]
    out.print(
        f"  {generations} saved (0 is the original's), {report['evaluations']} of "
        f"{budget} evaluations"
        + (f", and {format_count(invalid, 'invalid variant')}" if invalid else ""),
        highlight=False,
    )
    best = report["best"]
    if best is None:
        out.print("  No passing variant yet.", highlight=False)
    else:
        ratio = ""
        if report["original_cost"] and best["cost"] is not None:
            ratio = f", {best['cost'] / report['original_cost']:.3f} of the original's cost"
        label = "Best so far" if report["status"].startswith("running") else "Best"
        out.print(
            f"  {label}: {best['candidate_id']} (generation {best['generation']}, "
            f"{format_count(best['edits'], 'edit')}{ratio})",
            highlight=False,
        )
    endings = ", ".join(f"{name} {count}" for name, count in sorted(report["outcomes"].items()))
    out.print(f"  Outcomes: {endings or 'none yet'}", highlight=False)
    if report["stopped"]:
        reason = STOP_MESSAGES.get(report["stopped"], report["stopped"])
        out.print(f"  Stopped: {report['stopped']} ({reason})", highlight=False)
    for line in operator_lines(report["operators"], report["adapt_operators"]):
        out.print("  " + line, highlight=False)
    out.print(f"  Archive: {report['archive']}", highlight=False)


def _print_runs(report: dict) -> None:
    table = Table("run", "status", "target", "seed", "started")
    for run in report["runs"]:
        table.add_row(run["run_id"], run["status"], run["target"], str(run["seed"]), run["started"])
    Console().print(table)

