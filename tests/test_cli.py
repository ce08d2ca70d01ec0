"""`evolver run` and `evolver eval` end to end, through the real command line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES

EXIT_USAGE = 2
EXIT_ORIGINAL_FAILS = 3


def evolver(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolver", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=1200,
    )


def test_run_finds_planted_speedup(stats_example: Path):
    result = evolver("run", str(stats_example), "--budget", "36", "--seed", "1", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    original = summary["original"]
    assert original["failures"] == 0
    assert original["cost"] > 0
    best = summary["best"][0]
    assert best["failures"] == 0
    # Dropping the sum recomputed in the loop cuts the fuel of the whole suite by far
    # more than half; no other passing edit of this module comes close.
    assert best["cost"] < 0.5 * original["cost"]
    assert "-        total = sum(values)" in best["diff"]
    for key in ("run_id", "archive", "evaluations", "original", "best"):
        assert key in summary
    for entry in summary["best"]:
        assert set(entry) >= {"candidate_id", "failures", "cost", "edits", "diff"}

    with sqlite3.connect(summary["archive"]) as connection:
        (evaluated,) = connection.execute(
            "SELECT count(*) FROM candidates WHERE run_id = ? AND outcome != 'invalid'",
            (summary["run_id"],),
        ).fetchone()
    # Every evaluation, the original's included, is in the archive.
    assert evaluated == summary["evaluations"]


def test_best_candidate_reevaluates_the_same(stats_example: Path, tmp_path: Path):
    result = evolver("run", str(stats_example), "--budget", "24", "--seed", "2", "--json")
    assert result.returncode == 0, result.stderr
    best = json.loads(result.stdout)["best"][0]
    patch = tmp_path / "best.patch"
    patch.write_text(best["diff"])
    applied = subprocess.run(
        ["git", "apply", str(patch)], cwd=stats_example, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    check = evolver(
        "eval", str(stats_example / "stats.py"), "--suite",
        str(stats_example / "test_stats.py"), "--seed", "2", "--max-examples", "20",
        "--json",
    )
    assert check.returncode == 0, check.stderr
    evaluation = json.loads(check.stdout)
    assert evaluation["failures"] == best["failures"]
    assert evaluation["cost"] == best["cost"]


def test_same_seed_gives_same_run(stats_example: Path):
    first = evolver("run", str(stats_example), "--budget", "14", "--seed", "5", "--json")
    second = evolver("run", str(stats_example), "--budget", "14", "--seed", "5", "--json")
    assert first.returncode == second.returncode == 0
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert [b["candidate_id"] for b in one["best"]] == [b["candidate_id"] for b in two["best"]]
    assert [b["cost"] for b in one["best"]] == [b["cost"] for b in two["best"]]


def test_syntax_error_in_target(stats_example: Path):
    (stats_example / "stats.py").write_text("def broken(:\n")
    result = evolver("run", str(stats_example))
    assert result.returncode == EXIT_USAGE
    assert "stats.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_suite(stats_example: Path):
    (stats_example / "test_stats.py").unlink()
    result = evolver("run", str(stats_example))
    assert result.returncode == EXIT_USAGE
    assert "test_stats.py does not exist" in result.stderr


def test_suite_import_error(stats_example: Path):
    (stats_example / "test_stats.py").write_text("import no_such_module\n\ndef test_x():\n    pass\n")
    result = evolver("run", str(stats_example))
    assert result.returncode == EXIT_USAGE
    assert "failed to import" in result.stderr
    assert "no_such_module" in result.stderr


def test_original_failing_its_suite(stats_example: Path):
    source = (stats_example / "stats.py").read_text()
    (stats_example / "stats.py").write_text(source.replace("value > best", "value < best"))
    result = evolver("run", str(stats_example))
    assert result.returncode == EXIT_ORIGINAL_FAILS
    assert "test_running_max_is_prefix_maximum" in result.stderr


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--budget", "0"], "budget"),
        (["--sandbox", "vm"], "sandbox"),
        (["--function", "no_such_function"], "no_such_function"),
    ],
)
def test_bad_flags(stats_example: Path, flags, fragment):
    result = evolver("run", str(stats_example), *flags)
    assert result.returncode == EXIT_USAGE
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_key_in_config_file(stats_example: Path):
    config = stats_example / "evolver.toml"
    config.write_text(config.read_text() + "budjet = 3\n")
    result = evolver("run", str(stats_example))
    assert result.returncode == EXIT_USAGE
    assert "budjet" in result.stderr


def test_run_help_documents_exit_codes():
    result = evolver("run", "--help")
    assert result.returncode == 0
    assert "exit codes" in result.stdout
    assert "original target does not pass" in result.stdout


def test_eval_reports_failures(tmp_path: Path):
    source = (EXAMPLES / "stats" / "stats.py").read_text()
    candidate = tmp_path / "stats.py"
    candidate.write_text(source.replace("value > best", "value < best"))
    result = evolver(
        "eval", str(candidate), "--suite", str(EXAMPLES / "stats" / "test_stats.py"), "--json"
    )
    assert result.returncode == 0
    evaluation = json.loads(result.stdout)
    assert evaluation["failures"] == 2
    assert evaluation["cost"] is None
