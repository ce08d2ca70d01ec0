"""`evolver mutate` and `evolver operators`: preview the edits evolver can make."""

from __future__ import annotations

import argparse
import difflib
import json
import random
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from genomes import OPERATORS, Edit, InvalidVariant, Target, TargetError, unified_diff

from ._errors import EXIT_OK, ConfigError

#: Draws per requested variant before `mutate` gives up, so that a file with
#: fewer distinct sites than `--count`, or mostly invalid ones, still ends.
_ATTEMPTS_PER_VARIANT = 20

MUTATE_EXAMPLES = """\
examples:
  evolver mutate examples/stats/stats.py
  evolver mutate mod.py --operator bind_local --operator hoist_invariant --count 3
  evolver mutate mod.py --function Solver.step --seed 7 --json
"""

OPERATORS_EXAMPLES = """\
examples:
  evolver operators
  evolver operators --json
"""


def add_mutate_parser(commands) -> None:
    """Add `mutate` to the subcommands of the `evolver` parser."""
    from . import cli

    parser = commands.add_parser(
        "mutate",
        help="print sample variants of a file as diffs",
        description=(
            "Draw random single edits of a Python file and print each variant as a "
            "unified diff that git apply accepts, headed by the edit's description. "
            "Nothing is evaluated or written."
        ),
        epilog=MUTATE_EXAMPLES + "\n" + cli.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the Python file to mutate")
    parser.add_argument(
        "--operator",
        dest="operators",
        action="append",
        metavar="NAME",
        help="draw only edits of this operator (repeatable; default: every operator, "
        "see evolver operators)",
    )
    parser.add_argument(
        "--count", type=int, default=5, help="number of variants to print (default 5)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed of the draws (default 0)"
    )
    parser.add_argument(
        "--function",
        dest="functions",
        action="append",
        metavar="NAME",
        help="a function that may change, such as Class.method (repeatable; "
        "default: the whole file)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_operators_parser(commands) -> None:
    """Add `operators` to the subcommands of the `evolver` parser."""
    from . import cli

    parser = commands.add_parser(
        "operators",
        help="list the edit operators",
        description=(
            "List the operators that make evolver's edits, with their level "
            "(statement, expression or speed) and what each changes."
        ),
        epilog=OPERATORS_EXAMPLES + "\n" + cli.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def mutate_command(arguments) -> int:
    """Print `--count` sample variants of the file; see `add_mutate_parser`."""
    if arguments.count < 1:
        raise ConfigError(
            f"Invalid value {arguments.count} for --count: use 1 or more."
        )
    target = _load(arguments.file, arguments.functions)
    operators = _check_operators(arguments.operators, target)

    variants, invalid = _sample(target, operators, arguments.count, arguments.seed)
    path = _patch_path(arguments.file)
    if arguments.json:
        print(
            json.dumps(
                {
                    "file": str(arguments.file),
                    "seed": arguments.seed,
                    "variants": [
                        {
                            "description": edit.describe(),
                            "edit": edit.to_json(),
                            "diff": unified_diff(target.source, source, path),
                        }
                        for edit, source in variants
                    ],
                    "invalid": invalid,
                },
                indent=2,
            )
        )
        return EXIT_OK

    for number, (edit, source) in enumerate(variants):
        if number:
            print()
        print(f"# {edit.describe()}")
        print(unified_diff(target.source, source, path), end="")
    _report_shortfall(len(variants), arguments.count, invalid)
    return EXIT_OK


def operators_command(arguments) -> int:
    """List the operators; see `add_operators_parser`."""
    rows = [
        {"name": name, "level": operator.level, "description": _first_line(operator)}
        for name, operator in OPERATORS.items()
    ]
    if arguments.json:
        print(json.dumps({"operators": rows}, indent=2))
        return EXIT_OK

    table = Table("operator", "level", "description")
    for row in rows:
        table.add_row(row["name"], row["level"], row["description"])
    Console().print(table)
    return EXIT_OK


def _load(file: Path, functions: list[str] | None) -> Target:
    if file.is_dir():
        raise ConfigError(
            f"{file} is a folder, not a file. Give the path of a Python file."
        )
    try:
        return Target.from_file(file, functions=functions)
    except TargetError as error:
        message = str(error)
        raise ConfigError(message[:1].upper() + message[1:]) from error


def _check_operators(names: list[str] | None, target: Target) -> list[str] | None:
    """Reject unknown operators and operators without a site in the target."""
    if names is None:
        return None
    for name in names:
        if name not in OPERATORS:
            close = difflib.get_close_matches(name, list(OPERATORS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"Unknown operator {name!r} for --operator.{hint} The operators "
                f"are: {', '.join(OPERATORS)} (evolver operators describes them)."
            )
    for name in names:
        if not OPERATORS[name].count(target):
            where = str(target.path)
            if target.functions:
                where += f" (in {', '.join(target.functions)})"
            raise ConfigError(
                f"Operator {name!r} has no site in {where}. Choose another operator "
                "(see evolver operators), or a file or function where it applies."
            )
    return list(dict.fromkeys(names))


def _sample(
    target: Target, operators: list[str] | None, count: int, seed: int
) -> tuple[list[tuple[Edit, str]], int]:
    """Draw distinct edits until `count` variants compile.

    Returns the variants with their edits, and how many drawn edits gave
    code that does not compile.
    """
    rng = random.Random(seed)
    variants: list[tuple[Edit, str]] = []
    seen: set[Edit] = set()
    invalid = 0
    for _ in range(count * _ATTEMPTS_PER_VARIANT):
        if len(variants) == count:
            break
        edit = target.random_edit(rng, operators)
        if edit is None:
            break
        if edit in seen:
            continue
        seen.add(edit)
        try:
            variants.append((edit, target.apply([edit]).source))
        except InvalidVariant:
            invalid += 1
    return variants, invalid


def _report_shortfall(found: int, count: int, invalid: int) -> None:
    """Tell people on stderr, away from the diffs, why fewer variants came out."""
    if invalid:
        print(
            f"{invalid} sampled edit(s) gave code that does not compile and were "
            "skipped.",
            file=sys.stderr,
        )
    if found < count:
        print(
            f"Only {found} distinct valid variant(s) found of the {count} requested; "
            "the file has few sites for these operators.",
            file=sys.stderr,
        )


def _patch_path(file: Path) -> str:
    """Return the path that `git apply` expects: relative to the repository root.

    Outside a repository the path is relative to the current folder, or the
    file name when the file lies elsewhere.
    """
    resolved = file.resolve()
    for folder in resolved.parents:
        if (folder / ".git").exists():
            return resolved.relative_to(folder).as_posix()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.name


def _first_line(operator: object) -> str:
    doc = (operator.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
