"""`evolver canary`: put stored candidates through the canary gate."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fitness import SuiteError
from sandbox import SandboxError

from ._errors import EXIT_OK, EXIT_TESTS_FAILED, ConfigError

__all__ = ["add_canary_parser", "canary_command", "show_verdict"]

CANARY_EXAMPLES = """\
examples:
  evolver canary 3fa2c1d0e9ab
  evolver canary r1a2b3c4d:3fa2c1d0e9ab --archive examples/stats
  evolver canary 3fa2 5b7e --check --json
"""

#: Colours of verdicts and check statuses in the terminal.
STATUS_STYLES = {
    "pass": "green",
    "marginal": "yellow",
    "fail": "red",
    "skipped": "dim",
}


def add_canary_parser(commands) -> None:
    """Add the `canary` command to the subparsers object of the `evolver` parser."""
    from .cli import EXIT_CODES_HELP

    canary = commands.add_parser(
        "canary",
        help="re-evaluate candidates with the canary gate",
        description=(
            "Re-evaluate stored candidates in fresh sandboxes with new seeds, more "
            "examples, differential tests against the original, a cost comparison "
            "and output limits, and store each verdict (pass, marginal or fail) in "
            "the archive. Only a passing candidate is promoted. The [canary] table of "
            "the configuration sets the thresholds."
        ),
        epilog=CANARY_EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    canary.add_argument(
        "candidates",
        nargs="+",
        metavar="ID",
        help="a candidate id, a unique prefix of one, or RUN:ID (default: newest run)",
    )
    add_archive_option(canary)
    canary.add_argument(
        "--check",
        action="store_true",
        help=f"exit with {EXIT_TESTS_FAILED} unless every verdict is pass",
    )
    canary.add_argument("--json", action="store_true", help="print one JSON object")


def add_archive_option(command) -> None:
    """Add `--archive PATH`, which every review command takes."""
    command.add_argument(
        "--archive",
        type=Path,
        metavar="PATH",
        help=(
            "the archive file, or a folder or configuration file as evolver run takes "
            "(default: the current folder)"
        ),
    )


def canary_command(arguments) -> int:
    from ._canary import canary_run
    from ._canary_lookup import (
        canary_config_for,
        find_archive,
        open_archive,
        resolve_candidate,
    )

    location = find_archive(arguments.archive)
    console = Console(stderr=True, quiet=arguments.json)
    verdicts = []
    with open_archive(location, readonly=False) as archive:
        targets = [resolve_candidate(archive, spec) for spec in arguments.candidates]
        for run, candidate in targets:
            if candidate.outcome == "invalid" or not candidate.source:
                raise ConfigError(
                    f"Candidate {candidate.candidate_id} of run {run.run_id} is not "
                    "valid Python and was never evaluated, so it cannot be gated. "
                    "Pick an evaluated candidate."
                )
        for run, candidate in targets:
            config, _ = canary_config_for(location, run)
            with console.status(f"Gating {candidate.candidate_id}") as status:

                def report(candidate_id: str, message: str) -> None:
                    status.update(f"Gating {candidate_id}: {message}")

                try:
                    verdicts += canary_run(
                        archive,
                        run.run_id,
                        [candidate.candidate_id],
                        config=config,
                        on_event=report,
                    )
                except SuiteError as error:
                    message = f"{error} The gate reads the suite file the run used."
                    raise ConfigError(message) from error
                except SandboxError as error:
                    sandbox = run.config.get("sandbox")
                    message = f"The {sandbox} sandbox cannot start: {error}"
                    raise ConfigError(message) from error

    if arguments.json:
        print(json.dumps({"verdicts": [v.to_json() for v in verdicts]}, indent=2))
    else:
        for verdict in verdicts:
            show_verdict(Console(), verdict)
    failed = any(not verdict.promoted for verdict in verdicts)
    return EXIT_TESTS_FAILED if arguments.check and failed else EXIT_OK


def show_verdict(console: Console, verdict) -> None:
    """Print a verdict with one row per check and the counterexample, if any."""
    style = STATUS_STYLES.get(verdict.verdict, "")
    promoted = "promoted" if verdict.promoted else "not promoted"
    console.print(
        f"{verdict.run_id}:{verdict.candidate_id}: "
        f"[{style}]{verdict.verdict}[/{style}] ({promoted})",
        highlight=False,
    )
    table = Table("check", "status", "critical", "summary")
    for check in verdict.checks:
        check_style = STATUS_STYLES.get(check.status, "")
        table.add_row(
            check.name,
            f"[{check_style}]{check.status}[/{check_style}]",
            "yes" if check.critical else "no",
            check.summary,
        )
    console.print(table)
    if verdict.counterexample:
        console.print("Counterexample:", style="bold")
        console.print(verdict.counterexample, highlight=False, markup=False)
