"""The `evolver` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from ._config import RunConfig
from ._status_command import add_status_parser
from ._errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ORIGINAL_FAILS,
    EXIT_TESTS_FAILED,
    EXIT_USAGE,
    EvolverError,
)

EXIT_CODES_HELP = f"""\
exit codes:
  {EXIT_OK}    the command finished
  {EXIT_INTERNAL}    an unexpected internal error (rerun with --debug for a traceback)
  {EXIT_USAGE}    invalid configuration, flags or input files
  {EXIT_ORIGINAL_FAILS}    the original target does not pass its own suite (see run --repair)
       (with eval --check or canary --check: the candidate does not pass it)
  {EXIT_INTERRUPTED}  interrupted with Ctrl-C
evolver gate has exit codes of its own; see evolver gate --help.
"""

RUN_EXAMPLES = """\
examples:
  evolver run examples/stats
  evolver run --target path/mod.py --suite path/test_mod.py --budget 400 --seed 1
  evolver run examples/stats --json > result.json
  evolver run examples/stats --selection islands --islands 3 --adapt-operators
  evolver run examples/stats --plateau 5 --time-budget 600
  evolver run examples/stats --resume          (after Ctrl-C or a crash)
  evolver run examples/repair --repair         (the original fails a test)
"""

EVAL_EXAMPLES = """\
examples:
  evolver eval examples/stats/stats.py --suite examples/stats/test_stats.py
  evolver eval variant.py --suite test_mod.py --module mod --json
  evolver eval mod.py --suite test_mod.py --check --seconds 10
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evolver",
        description=(
            "Evolve a Python module safely: edit its syntax tree, run every variant in a "
            "sandbox against the module's property tests and benchmarks, and keep every "
            "result in an archive."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run(commands)
    _add_eval(commands)
    add_status_parser(commands, EXIT_CODES_HELP)
    from ._sandbox_command import add_sandbox_parser

    add_sandbox_parser(commands)
    # These modules read EXIT_CODES_HELP from this one, so they load after it.
    from ._canary_command import add_canary_parser
    from ._review_command import add_review_parser

    from ._gate_command import add_gate_parser
    from ._mutate_command import add_mutate_parser, add_operators_parser

    add_mutate_parser(commands)
    add_operators_parser(commands)
    add_canary_parser(commands)
    add_review_parser(commands)
    add_gate_parser(commands)
    return parser


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run",
        help="launch an evolution run",
        description=(
            "Launch an evolution run. Settings come from evolver.toml (or [tool.evolver] "
            "in pyproject.toml) in LOCATION, then from the flags, which win."
        ),
        epilog=RUN_EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "location",
        nargs="?",
        type=Path,
        help="a folder with evolver.toml or pyproject.toml, or such a file",
    )
    run.add_argument("--target", help="path of the module to evolve")
    run.add_argument("--suite", help="path of the suite file (test_* and bench_*)")
    run.add_argument(
        "--function",
        dest="functions",
        action="append",
        help="a function that may change (repeatable; default: the whole module)",
    )
    run.add_argument(
        "--budget",
        type=int,
        help="evaluations to spend, the original's included (default 400)",
    )
    run.add_argument("--population", type=int, help="candidates per generation (default 20)")
    run.add_argument("--seed", type=int, help="random seed of the search (default 0)")
    run.add_argument(
        "--sandbox",
        help=(
            "where candidates run: wasm (default; fuel cost), docker (a container per "
            "evaluation; wall-clock cost) or process (trusted code only)"
        ),
    )
    run.add_argument("--workers", type=int, help="parallel evaluations (default: one per core)")
    run.add_argument(
        "--max-examples", type=int, help="hypothesis examples per test (default 20)"
    )
    run.add_argument("--max-edits", type=int, help="edits per genome at most (default 8)")
    run.add_argument(
        "--crossover",
        help="how parents' edit lists recombine: one_point (default), two_point, "
        "uniform or concatenation",
    )
    run.add_argument(
        "--finalists",
        type=int,
        help=(
            "best variants to minimise and put through the canary gate at the end "
            "(default 3; 0 gates none, so nothing is promoted)"
        ),
    )
    run.add_argument(
        "--cold",
        dest="warm",
        action="store_const",
        const=False,
        help=(
            "start a fresh wasm guest for every evaluation. By default each worker "
            "starts one guest and forks it for every evaluation, which is faster. "
            "The two lay out the guest's heap differently, so a benchmark's fuel "
            "differs between them by a fraction of a percent; each repeats its own"
        ),
    )
    run.add_argument(
        "--repair",
        action="store_const",
        const=True,
        help=(
            "go on when the original fails tests of its suite: localise the fault, "
            "then search for a variant that passes every test"
        ),
    )
    run.add_argument(
        "--repair-weight",
        type=int,
        help=(
            "with --repair, how many times a test the original fails counts while "
            "it still fails (default 10; a newly failing test counts once)"
        ),
    )
    _add_search_strategy(run)
    _add_stop_rules(run)
    run.add_argument(
        "--run-dir", help="folder for the archive (default: .evolver beside the target)"
    )
    _add_limits(run)
    run.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="RUN",
        help=(
            "go on with an interrupted run of the archive (the newest one, or RUN) "
            "from its last saved generation, with its stored settings; only --workers "
            "and --run-dir may differ from them"
        ),
    )
    run.add_argument("--json", action="store_true", help="print one JSON object, no display")


def _add_search_strategy(command) -> None:
    command.add_argument(
        "--selection",
        help=(
            "how parents and survivors are chosen: nsga2 (default; Pareto fronts over "
            "failures, cost and edits), lexicase (test by test in random order, then "
            "cost) or islands (separate NSGA-II populations with ring migration)"
        ),
    )
    command.add_argument(
        "--islands", type=int, help="sub-populations of --selection islands (default 4)"
    )
    command.add_argument(
        "--migrants",
        type=int,
        help="best candidates each island sends to the next at a migration (default 1)",
    )
    command.add_argument(
        "--migration-interval",
        type=int,
        help="generations between migrations of --selection islands (default 5)",
    )
    command.add_argument(
        "--adapt-operators",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=(
            "adapt the edit operators' probabilities during the run to how often "
            "their children beat their parent, starting from the [operators] weights "
            "(default: off)"
        ),
    )


def _add_stop_rules(command) -> None:
    command.add_argument(
        "--time-budget",
        type=float,
        help=(
            "stop starting generations after this many seconds of search (default: no "
            "limit); a run stopped by time cannot be reproduced exactly"
        ),
    )
    command.add_argument(
        "--target-cost",
        type=float,
        help=(
            "stop after the generation in which a variant passes every test at this "
            "cost or less (fuel with wasm; default: no target)"
        ),
    )
    command.add_argument(
        "--plateau",
        type=int,
        help=(
            "stop when the best candidate has not improved for this many generations "
            "(default: never)"
        ),
    )


def _add_limits(command) -> None:
    command.add_argument(
        "--fuel",
        type=int,
        help=f"WebAssembly instructions per evaluation (default {RunConfig.fuel:,})",
    )
    command.add_argument(
        "--memory-mb",
        type=int,
        help=f"guest memory per evaluation, in MiB (default {RunConfig.memory_mb})",
    )
    command.add_argument(
        "--seconds",
        type=float,
        help=f"wall-clock limit per evaluation, in s (default {RunConfig.seconds:g})",
    )
    command.add_argument(
        "--output-kb",
        type=int,
        help=(
            "output allowed per evaluation to each of the guest's stdout, stderr "
            f"and report, in KiB (default {RunConfig.output_kb})"
        ),
    )


def _add_eval(commands) -> None:
    evaluate = commands.add_parser(
        "eval",
        help="evaluate one file against a suite",
        description=(
            "Evaluate one candidate file against a suite in a sandbox and print its "
            "fitness and the sandbox outcome. The exit code is 0 whenever the "
            "evaluation finishes, failing tests included, unless --check is given."
        ),
        epilog=EVAL_EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("candidate", type=Path, help="the Python file to evaluate")
    evaluate.add_argument("--suite", type=Path, required=True, help="the suite file")
    evaluate.add_argument(
        "--module",
        help="module name the suite imports (default: the candidate's file name)",
    )
    evaluate.add_argument(
        "--sandbox", default="wasm", help="wasm (default), docker or process"
    )
    from ._eval_command import add_backend_arguments

    add_backend_arguments(evaluate)
    evaluate.add_argument(
        "--warm",
        action="store_true",
        help=(
            "evaluate in a fork of a started wasm guest, as evolver run does by "
            "default, so that the fuel matches the run's figure exactly. A fresh guest "
            "lays out its heap differently and charges a fuel a fraction of a percent "
            "off. Starting the warm guest takes about 12 s"
        ),
    )
    evaluate.add_argument("--max-examples", type=int, default=20, help="examples per test")
    evaluate.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    _add_limits(evaluate)
    evaluate.add_argument(
        "--check",
        action="store_true",
        help=(
            f"exit with {EXIT_TESTS_FAILED} unless every test passed and the sandbox "
            "finished the suite"
        ),
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "run":
            from ._run_command import run_command

            return run_command(arguments)
        if arguments.command == "eval":
            from ._eval_command import eval_command

            return eval_command(arguments)
        if arguments.command == "canary":
            from ._canary_command import canary_command

            return canary_command(arguments)
        if arguments.command in ("review", "show", "export", "apply"):
            from ._review_command import review_command

            return review_command(arguments)
        if arguments.command == "mutate":
            from ._mutate_command import mutate_command

            return mutate_command(arguments)
        if arguments.command == "operators":
            from ._mutate_command import operators_command

            return operators_command(arguments)
        if arguments.command == "gate":
            from ._gate_command import gate_command

            return gate_command(arguments)
        if arguments.command == "sandbox":
            from ._sandbox_command import sandbox_command

            return sandbox_command(arguments)
        if arguments.command == "status":
            from ._status_command import status_command

            return status_command(arguments)
    except EvolverError as error:
        details = getattr(error, "details", None)
        return _report_error(arguments, str(error), error.exit_code, details)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout left early, as `| head` does: not an error of ours.
        # Pointing stdout at /dev/null keeps the flush at exit from failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - the last line of defence of the CLI
        if arguments.debug:
            traceback.print_exc()
        message = f"Internal error: {type(error).__name__}: {error}. Rerun with --debug."
        return _report_error(arguments, message, EXIT_INTERNAL)
    parser.error(f"unknown command {arguments.command!r}")
    return EXIT_USAGE


def _report_error(
    arguments, message: str, code: int, details: dict | None = None
) -> int:
    if arguments.debug and sys.exc_info()[0] is not None:
        traceback.print_exc()
    if getattr(arguments, "json", False):
        print(json.dumps({"error": message, "exit_code": code, **(details or {})}))
    print(f"evolver: {message}", file=sys.stderr)
    return code


def entry() -> None:
    """Run the command line as a program, and end the process at once afterwards.

    wasmtime's runtime threads can abort the process (SIGABRT, "panic in a function
    that cannot unwind") when the interpreter tears itself down around them, which
    turned a finished command's exit code into -6 now and then. Every command has
    closed its sandboxes, workers and files by the time `main` returns, so this
    flushes the output and skips the teardown.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()
