"""Prepare pyperformance programs as evolver targets.

The pyperformance package ships each benchmark program as
``data-files/benchmarks/<name>/run_benchmark.py``. Such a file imports pyperf and
ends with an ``if __name__ == "__main__":`` block that drives pyperf's runner.
pyperf is not available inside the sandbox, so ``prepare`` copies the program with
exactly those two statements removed and every other byte kept, puts the suite
from this folder beside it and writes an ``evolver.toml`` for the pair.

Usage: ``python examples/pyperformance/prepare.py DEST [NAME ...]``. Without a
NAME it prepares every program listed in ``PROGRAMS``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import libcst as cst
import libcst.matchers as m

#: The programs that have a suite here, each with the functions and methods that a
#: run may change. Methods are named ``Class.method``. The other programs of
#: pyperformance are left out on purpose: they stay an unseen check of the search.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "bm_nqueens": ("permutations", "n_queens"),
    "bm_fannkuch": ("fannkuch",),
    "bm_float": (
        "Point.__init__",
        "Point.normalize",
        "Point.maximize",
        "maximize",
        "benchmark",
    ),
    "bm_richards": (
        "Packet.append_to",
        "HandlerTaskRec.workInAdd",
        "HandlerTaskRec.deviceInAdd",
        "TaskState.isTaskHoldingOrWaiting",
        "TaskState.isWaitingWithPacket",
        "Task.addPacket",
        "Task.runTask",
        "Task.waitTask",
        "Task.hold",
        "Task.release",
        "Task.qpkt",
        "Task.findtcb",
        "DeviceTask.fn",
        "HandlerTask.fn",
        "IdleTask.fn",
        "WorkTask.fn",
        "schedule",
        "Richards.run",
    ),
}

#: Search settings written to each ``evolver.toml``, sized for a short example run
#: rather than a thorough search.
RUN_SETTINGS = {"budget": 60, "population": 12, "max_examples": 20}

SUITES_DIR = Path(__file__).resolve().parent

_PYPERF_IMPORT = m.SimpleStatementLine(
    body=[m.Import(names=[m.ImportAlias(name=m.Name("pyperf"), asname=None)])]
)
_MAIN_GUARD = m.If(
    test=m.Comparison(
        left=m.Name("__name__"),
        comparisons=[
            m.ComparisonTarget(
                operator=m.Equal(),
                comparator=m.SimpleString(
                    m.MatchIfTrue(lambda text: text.strip("'\"") == "__main__")
                ),
            )
        ],
    )
)


def program_path(name: str) -> Path:
    """Return the path of the installed pyperformance program ``name``."""
    if name not in PROGRAMS:
        known = ", ".join(PROGRAMS)
        msg = f"No suite for program {name!r}; choose one of: {known}."
        raise ValueError(msg)
    try:
        import pyperformance
    except ImportError as error:
        msg = "pyperformance is not installed; run: pip install -e '.[test]'"
        raise ImportError(msg) from error

    root = Path(pyperformance.__file__).parent / "data-files" / "benchmarks"
    path = root / name / "run_benchmark.py"
    if not path.is_file():
        msg = f"Program {name!r} not found at {path}; reinstall pyperformance 1.14.0."
        raise FileNotFoundError(msg)
    return path


def strip_pyperf(source: str, filename: str = "<source>") -> str:
    """Remove ``import pyperf`` and the ``__main__`` block from a program's source.

    The blank lines and comments above a removed statement stay where they were,
    so the result is the input with the two statements' own lines cut out. Raise
    ValueError if either statement does not occur exactly once at module level,
    or if the rest of the program still uses ``pyperf``.
    """
    module = cst.parse_module(source)
    kept_statements: list[cst.BaseStatement] = []
    carried: list[cst.EmptyLine] = []
    found = {"import pyperf": 0, 'if __name__ == "__main__":': 0}
    for statement in module.body:
        removed = _removed_kind(statement)
        if removed is None:
            kept_statements.append(_prepend_lines(statement, carried))
            carried = []
            continue
        found[removed] += 1
        carried.extend(statement.leading_lines)

    for kind, count in found.items():
        if count != 1:
            msg = (
                f"{filename}: expected one module-level `{kind}`, found {count}, "
                "so pyperf cannot be cut out safely; use pyperformance 1.14.0."
            )
            raise ValueError(msg)
    footer = [*carried, *module.footer]
    stripped = module.with_changes(body=kept_statements, footer=footer)
    if m.findall(stripped, m.Name("pyperf")):
        msg = f"{filename}: still uses pyperf after removing its import and main block."
        raise ValueError(msg)
    return stripped.code


def prepare(name: str, dest: Path) -> Path:
    """Write the target, suite and ``evolver.toml`` of ``name`` into ``dest/<name>/``.

    Return that directory, which ``evolver run`` accepts as is. Existing files
    of the same names are overwritten.
    """
    source_path = program_path(name)
    suite_path = SUITES_DIR / f"test_{name}.py"
    if not suite_path.is_file():
        msg = f"Suite for {name!r} not found at {suite_path}."
        raise FileNotFoundError(msg)
    target_source = strip_pyperf(source_path.read_text("utf-8"), str(source_path))

    directory = Path(dest) / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(target_source, "utf-8")
    shutil.copyfile(suite_path, directory / suite_path.name)
    (directory / "evolver.toml").write_text(_config_text(name), "utf-8")
    return directory


def _removed_kind(statement: cst.BaseStatement) -> str | None:
    if m.matches(statement, _PYPERF_IMPORT):
        return "import pyperf"
    if m.matches(statement, _MAIN_GUARD):
        return 'if __name__ == "__main__":'
    return None


def _prepend_lines(
    statement: cst.BaseStatement, lines: list[cst.EmptyLine]
) -> cst.BaseStatement:
    if not lines:
        return statement
    return statement.with_changes(leading_lines=[*lines, *statement.leading_lines])


def _config_text(name: str) -> str:
    # JSON string and array syntax is valid TOML for these plain ASCII values.
    lines = [
        f"target = {json.dumps(name + '.py')}",
        f"suite = {json.dumps('test_' + name + '.py')}",
        f"functions = {json.dumps(list(PROGRAMS[name]))}",
    ]
    lines += [f"{key} = {value}" for key, value in RUN_SETTINGS.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare the programs named on the command line and print their directories."""
    parser = argparse.ArgumentParser(
        description="Copy pyperformance programs, without pyperf, as evolver targets.",
        epilog="example: python examples/pyperformance/prepare.py /tmp/targets "
        "bm_nqueens",
    )
    parser.add_argument(
        "dest", type=Path, help="folder that receives one folder per program"
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"program to prepare (default: all of {', '.join(PROGRAMS)})",
    )
    args = parser.parse_args(argv)

    unknown = [name for name in args.names if name not in PROGRAMS]
    if unknown:
        names = ", ".join(unknown)
        parser.error(f"no suite for {names}; choose from {', '.join(PROGRAMS)}")
    for name in args.names or PROGRAMS:
        print(prepare(name, args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
