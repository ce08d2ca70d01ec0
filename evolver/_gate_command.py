"""`evolver gate`: fail a build when a change makes a target slower or breaks it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from sandbox import BaseSandbox, SandboxError, boundary_warning, create_sandbox

from ._errors import ConfigError, EvolverError
from ._gate_baseline import Measurement, read_baseline, write_baseline
from ._gate_compare import GateReport, compare
from ._gate_config import GateConfig, load_gate_config
from ._gate_errors import GATE_EXIT_CODES_HELP, GATE_OK, GateError
from ._gate_git import checkout
from ._gate_measure import Tree, measure
from ._gate_output import (
    render_junit,
    render_markdown,
    render_plain,
    render_rich,
    report_json,
)

GATE_EXAMPLES = """\
examples:
  evolver gate --update-baseline     # write evolver-baseline.json, then commit it
  evolver gate                       # compare the working tree with that file
  evolver gate --baseline-ref origin/main --markdown summary.md --junit gate.xml
  evolver gate path/to/project --json
"""


def add_gate_parser(commands) -> None:
    """Add the `gate` command to the CLI's subparsers."""
    gate = commands.add_parser(
        "gate",
        help="fail when a change makes a target slower or breaks its tests",
        description=(
            "Evaluate every target of the configuration (its target and suite, and "
            "the targets listed in its [gate] table) and compare each benchmark's "
            "cost with a baseline: the committed baseline file, or a git revision "
            "given with --baseline-ref. A failing test always fails the gate; a "
            "benchmark fails when it costs more than its threshold allows. With the "
            "wasm sandbox, costs are fuel, which is the same on every run and machine."
        ),
        epilog=GATE_EXAMPLES + "\n" + GATE_EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gate.add_argument(
        "location",
        nargs="?",
        type=Path,
        help="a folder with evolver.toml or pyproject.toml, or such a file (default .)",
    )
    gate.add_argument(
        "--update-baseline",
        action="store_true",
        help="evaluate every target and write the baseline file instead of comparing",
    )
    gate.add_argument(
        "--baseline-ref",
        metavar="REF",
        help=(
            "compute the baseline from this git revision, checked out in a temporary "
            "worktree, instead of reading the baseline file"
        ),
    )
    gate.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="the baseline file (default: the [gate] baseline key, or "
        "evolver-baseline.json beside the configuration)",
    )
    gate.add_argument(
        "--require-update",
        action="store_true",
        help=(
            "also fail when the baseline file does not record a change: a gain beyond "
            "the improvement threshold, or a new or removed test, benchmark or target"
        ),
    )
    gate.add_argument("--json", action="store_true", help="print one JSON object")
    gate.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write a Markdown summary, e.g. for a pull-request comment",
    )
    gate.add_argument(
        "--junit",
        type=Path,
        metavar="FILE",
        help="write JUnit XML with one test case per benchmark and failing test",
    )


def gate_command(arguments) -> int:
    """Run the gate and return its exit code: 0 when every target holds, else 1 or 2."""
    try:
        return _run_gate(arguments)
    except EvolverError:
        raise
    except Exception as error:
        # Exit code 1 means a regression to CI, so an internal error must not end in 1.
        raise GateError(
            f"The gate failed with an internal error: {type(error).__name__}: {error}. "
            "Rerun with --debug for a traceback."
        ) from error


def _run_gate(arguments) -> int:
    _check_flags(arguments)
    config = load_gate_config(arguments.location or Path.cwd(), arguments.baseline)
    warning = boundary_warning(config.sandbox)
    if warning is not None:
        print(warning, file=sys.stderr)
    progress = _progress(enabled=not arguments.json)

    with progress as note, _open_sandbox(config.sandbox) as sandbox:
        if arguments.update_baseline:
            report = _update(config, sandbox, note)
        elif arguments.baseline_ref is not None:
            report = _compare_with_revision(
                config, sandbox, arguments.baseline_ref, note
            )
        else:
            report = _compare_with_file(config, sandbox, arguments.require_update, note)

    _write_files(report, arguments)
    if arguments.json:
        print(json.dumps(report_json(report), indent=2))
    elif sys.stdout.isatty():
        render_rich(report, Console())
    else:
        print(render_plain(report), end="")
    return report.exit_code


def _check_flags(arguments) -> None:
    if arguments.update_baseline and arguments.baseline_ref is not None:
        raise ConfigError(
            "--update-baseline and --baseline-ref exclude each other: the first writes "
            "the baseline file, the second compares without one. Give one of them."
        )
    if arguments.require_update and (
        arguments.update_baseline or arguments.baseline_ref
    ):
        raise ConfigError(
            "--require-update checks that the baseline file is up to date, so it goes "
            "with neither --update-baseline nor --baseline-ref. Drop one of them."
        )
    if arguments.baseline is not None and arguments.baseline_ref is not None:
        raise ConfigError(
            "--baseline names a baseline file, which --baseline-ref does not read. "
            "Drop one of them."
        )
    # Fail before the evaluations, which take seconds per target, not after them.
    for flag, path in (
        ("--markdown", arguments.markdown),
        ("--junit", arguments.junit),
    ):
        if path is not None and not path.resolve().parent.is_dir():
            raise ConfigError(
                f"The folder of the {flag} file {path} does not exist. Create it, or "
                "give a path in a folder that exists."
            )


def _update(config: GateConfig, sandbox: BaseSandbox, note: Callable) -> GateReport:
    try:
        previous = read_baseline(config.baseline) if config.baseline.exists() else {}
    except ConfigError:
        previous = {}  # an unreadable old baseline is what an update replaces
    working_tree = [Tree("the working tree")]
    (current,) = measure(sandbox, config.sandbox, config, working_tree, note)
    label = _display_path(config.baseline)
    report = compare(
        config, previous, current.measurements, baseline_label=label, mode="update"
    )
    if report.exit_code != GATE_OK:
        return report
    write_baseline(config.baseline, current.measurements)
    return replace(report, written=label)


def _compare_with_file(
    config: GateConfig, sandbox: BaseSandbox, require_update: bool, note: Callable
) -> GateReport:
    baseline = read_baseline(config.baseline)
    working_tree = [Tree("the working tree")]
    (current,) = measure(sandbox, config.sandbox, config, working_tree, note)
    return compare(
        config,
        baseline,
        current.measurements,
        baseline_label=_display_path(config.baseline),
        require_update=require_update,
    )


def _compare_with_revision(
    config: GateConfig, sandbox: BaseSandbox, ref: str, note: Callable
) -> GateReport:
    with checkout(config.root, ref) as revision:
        _check_inside(config, revision.repository, ref)
        label = f"git revision {ref} ({revision.commit[:12]})"
        trees = [
            Tree(label, repository=revision.repository, checkout=revision.folder),
            Tree("the working tree"),
        ]
        before, current = measure(sandbox, config.sandbox, config, trees, note)

    # A target that the revision lacks or that fails there has no baseline, and is
    # judged by its tests alone, so that a change which repairs it can pass.
    baseline = dict(before.measurements)
    reasons = dict(before.skipped)
    for name, measurement in before.measurements.items():
        if not measurement.passed:
            reasons[name] = f"it fails its suite at {label}: {_why(measurement)}"
            del baseline[name]
    return compare(
        config,
        baseline,
        current.measurements,
        baseline_label=label,
        compared_on_this_machine=True,
        missing_reasons=reasons,
    )


def _check_inside(config: GateConfig, repository: Path, ref: str) -> None:
    for target in config.targets:
        for path in (target.target, target.suite):
            if not path.is_relative_to(repository):
                raise GateError(
                    f"{path} of gate target {target.name} is outside the git "
                    f"repository {repository}, so --baseline-ref {ref} cannot check "
                    "out its baseline. Move it into the repository or record a "
                    "baseline file with --update-baseline."
                )


def _why(measurement: Measurement) -> str:
    failed = [test.name for test in measurement.tests if not test.passed]
    if measurement.detail:
        return measurement.detail
    return f"failing tests {', '.join(failed)}" if failed else "a benchmark raised"


@contextmanager
def _open_sandbox(name: str) -> Iterator[BaseSandbox]:
    try:
        sandbox = create_sandbox(name)
    except (SandboxError, ValueError) as error:
        raise GateError(f"The {name} sandbox cannot start: {error}") from error
    with sandbox:
        yield sandbox


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """Show what is being evaluated on a terminal's stderr; do nothing elsewhere."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda message: None
        return
    with console.status("Preparing the sandbox") as status:
        yield lambda message: status.update(message)


def _write_files(report: GateReport, arguments) -> None:
    outputs = (
        ("--markdown", arguments.markdown, render_markdown),
        ("--junit", arguments.junit, render_junit),
    )
    for flag, path, render in outputs:
        if path is None:
            continue
        try:
            path.write_text(render(report), encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"Cannot write the {flag} file {path}: {error}. Give a path in a "
                "folder that exists and is writable."
            ) from error


def _display_path(path: Path) -> str:
    """Return `path` relative to the current folder when it is below it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()
