"""`evolver mutate` and `evolver operators`, run through the real argument parser."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evolver import cli
from evolver._errors import EXIT_OK, EXIT_USAGE, EvolverError
from evolver._mutate_command import (
    add_mutate_parser,
    add_operators_parser,
    mutate_command,
    operators_command,
)
from genomes import OPERATORS

SOURCE = """\
import math


def lengths(points, scale):
    # One length per point.
    result = []
    for x, y in points:
        result.append(math.sqrt(x * x + y * y) * scale)
    return result


def ratio(a, b):
    if b == 0:
        return 0.0
    return a / b
"""

#: Until the lead adds these commands to `cli.build_parser`, this wiring
#: does what `cli.main` does for them: parse, run, report EvolverError.
WIRING = """\
import argparse, sys
from evolver import cli
from evolver._errors import EvolverError
from evolver._mutate_command import (
    add_mutate_parser, add_operators_parser, mutate_command, operators_command,
)
parser = argparse.ArgumentParser(prog="evolver")
parser.add_argument("--debug", action="store_true")
commands = parser.add_subparsers(dest="command", required=True)
add_mutate_parser(commands)
add_operators_parser(commands)
arguments = parser.parse_args(sys.argv[1:])
run = mutate_command if arguments.command == "mutate" else operators_command
try:
    sys.exit(run(arguments))
except EvolverError as error:
    sys.exit(cli._report_error(arguments, str(error), error.exit_code))
"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="evolver")
    top.add_argument("--debug", action="store_true")
    commands = top.add_subparsers(dest="command", required=True)
    add_mutate_parser(commands)
    add_operators_parser(commands)
    return top


def run(capsys, *argv: str) -> tuple[int, str, str]:
    arguments = parser().parse_args(argv)
    command = mutate_command if arguments.command == "mutate" else operators_command
    try:
        code = command(arguments)
    except EvolverError as error:
        code = cli._report_error(arguments, str(error), error.exit_code)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "shapes.py"
    path.write_text(SOURCE)
    return path


def test_operators_lists_every_operator(capsys):
    code, out, _ = run(capsys, "operators", "--json")
    assert code == EXIT_OK
    rows = json.loads(out)["operators"]
    assert [row["name"] for row in rows] == list(OPERATORS)
    for row in rows:
        operator = OPERATORS[row["name"]]
        assert row["level"] == operator.level
        assert row["description"] == operator.__doc__.strip().splitlines()[0]
        assert row["description"].endswith(".")


def test_operators_table(capsys):
    code, out, _ = run(capsys, "operators")
    assert code == EXIT_OK
    for name in OPERATORS:
        assert name in out
    assert "speed" in out and "expression" in out and "statement" in out


def test_mutate_prints_diffs(capsys, module, tmp_path):
    code, out, _ = run(capsys, "mutate", str(module), "--count", "3", "--seed", "2")
    assert code == EXIT_OK
    headers = [line for line in out.splitlines() if line.startswith("# ")]
    assert len(headers) == 3
    assert out.count("diff --git") == 3
    operators = {header[2:].split(" at ")[0] for header in headers}
    assert operators <= set(OPERATORS)
    again = run(capsys, "mutate", str(module), "--count", "3", "--seed", "2")[1]
    assert again == out


def test_mutate_json_diffs_apply(capsys, module, tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    code, out, _ = run(
        capsys, "mutate", str(module), "--operator", "bind_local", "--count=2", "--json"
    )
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["invalid"] == 0
    descriptions = [variant["description"] for variant in data["variants"]]
    assert sorted(descriptions) == [
        "bind_local at line 7: bind `math.sqrt` to local `math_sqrt` before the loop",
        "bind_local at line 7: bind `result.append` to local `result_append` "
        "before the loop",
    ]
    for variant in data["variants"]:
        assert variant["edit"]["operator"] == "bind_local"
        assert variant["diff"].startswith("diff --git a/shapes.py b/shapes.py\n")
        patch = tmp_path / "change.patch"
        patch.write_text(variant["diff"])
        check = subprocess.run(
            ["git", "apply", "--check", "change.patch"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr


def test_mutate_fewer_sites_than_count(capsys, module):
    code, out, err = run(
        capsys, "mutate", str(module), "--operator=loop_to_comprehension", "--count=4"
    )
    assert code == EXIT_OK
    assert out.count("diff --git") == 1
    comprehension = "[math.sqrt(x * x + y * y) * scale for x, y in points]"
    assert f"+    result = {comprehension}\n" in out
    assert "Only 1 distinct valid variant(s) found of the 4 requested" in err


def test_mutate_function_restricts(capsys, module):
    code, out, _ = run(
        capsys, "mutate", str(module), "--function", "ratio", "--count", "6", "--json"
    )
    assert code == EXIT_OK
    lines = [variant["edit"]["line"] for variant in json.loads(out)["variants"]]
    assert len(lines) == 6
    assert all(line >= 13 for line in lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.py"], r"Target file .*missing\.py not found; pass the path of an"),
        (["notes.txt"], r"Target .*notes\.txt is not valid Python: .* Fix the error"),
        (["."], r"is a folder, not a file\. Give the path of a Python file\."),
        (["shapes.py", "--operator", "bind_locals"], r"Did you mean 'bind_local'\?"),
        (["shapes.py", "--operator", "list_to_set"], r"'list_to_set' has no site in"),
        (
            ["shapes.py", "--function", "ratio", "--operator", "bind_local"],
            r"no site in .*shapes\.py \(in ratio\)\. Choose another operator",
        ),
        (["shapes.py", "--function", "ratoi"], r"did you mean 'ratio'\?"),
        (["shapes.py", "--count", "0"], r"Invalid value 0 for --count: use 1 or more"),
    ],
    ids=[
        "missing",
        "not-python",
        "folder",
        "unknown-operator",
        "no-site",
        "no-site-in-function",
        "unknown-function",
        "count",
    ],
)
def test_mutate_errors(capsys, module, monkeypatch, argv, message):
    monkeypatch.chdir(module.parent)
    (module.parent / "notes.txt").write_text("These are notes, not code.\n")
    code, out, err = run(capsys, "mutate", *argv)
    assert code == EXIT_USAGE
    assert out == ""
    assert err.startswith("evolver: ")
    assert re.search(message, err), err


def test_mutate_error_json(capsys, module):
    code, out, _ = run(capsys, "mutate", str(module), "--operator", "grow", "--json")
    assert code == EXIT_USAGE
    data = json.loads(out)
    assert data["exit_code"] == EXIT_USAGE
    assert "Unknown operator 'grow' for --operator" in data["error"]


def test_mutate_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["mutate", "--help"])
    out = capsys.readouterr().out
    assert "evolver mutate examples/stats/stats.py" in out
    assert "exit codes:" in out


def test_mutate_in_a_process(module):
    result = subprocess.run(
        [sys.executable, "-c", WIRING, "mutate", str(module), "--count", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.startswith("# ")
    failed = subprocess.run(
        [sys.executable, "-c", WIRING, "mutate", str(module.parent / "gone.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == EXIT_USAGE
    assert "gone.py not found" in failed.stderr
