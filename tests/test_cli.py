"""`evolver run` and `evolver eval` end to end, through the real command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive import Archive
from evolver import build_config
from evolver._progress import format_count
from evolver._run_command import load_inputs
from evolver._search import Candidate, _rank_key
from evolver.cli import build_parser
from fitness import Evaluation, Fitness
from genomes import OPERATORS, Edit, Target
from genomes._operator_base import BaseOperator

from .conftest import EXAMPLES, ROOT

EXIT_TESTS_FAILED = 3
EXIT_USAGE = 2
EXIT_ORIGINAL_FAILS = 3
EXIT_INTERRUPTED = 130

#: A target whose every changed variant makes its suite loop until the time limit,
#: so that a generation of variants is still being evaluated when a test stops the run.
SPIN_TARGET = """\
# Only 41 + 1 ends the loop in the suite.


def answer():
    return 41 + 1
"""

SPIN_SUITE = """\
import spin


def test_answer():
    try:
        value = spin.answer()
    except BaseException:
        value = None
    while value != 42:
        pass
"""


def evolver(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolver", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=1200,
    )


def start_evolver(*arguments: str) -> subprocess.Popen:
    """Start the CLI in its own process group, as a shell starts a foreground job."""
    return subprocess.Popen(
        [sys.executable, "-m", "evolver", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )


def wait_for_generation(archive_path: Path, generation: int, process) -> None:
    """Wait until the archive contains an evaluated candidate of `generation`."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        address = f"file:{archive_path}?mode=ro"
        try:
            with sqlite3.connect(address, uri=True) as connection:
                (count,) = connection.execute(
                    "SELECT count(*) FROM candidates WHERE generation >= ?"
                    " AND outcome != 'invalid'",
                    (generation,),
                ).fetchone()
        except sqlite3.Error:
            count = 0
        if count:
            return
        time.sleep(0.2)
    raise AssertionError(f"generation {generation} never reached {archive_path}")


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in children.split()]


def process_ended(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    # The state follows the command name, which is in brackets; Z is a zombie.
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def run_status(archive_path: Path, run_id: str) -> str:
    with Archive.open(archive_path, readonly=True) as stored:
        return stored.run(run_id).status


def spin_example(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    (folder / "spin.py").write_text(SPIN_TARGET)
    (folder / "test_spin.py").write_text(SPIN_SUITE)
    return folder / "spin.py", folder / "test_spin.py"


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
    assert summary["improved"] is True
    assert best["improved"] is True
    assert summary["warnings"] == []
    for entry in summary["best"]:
        assert set(entry) >= {"candidate_id", "failures", "cost", "edits", "diff"}

    with sqlite3.connect(summary["archive"]) as connection:
        (evaluated,) = connection.execute(
            "SELECT count(*) FROM candidates WHERE run_id = ? AND outcome != 'invalid'"
            " AND operator != 'minimise'",
            (summary["run_id"],),
        ).fetchone()
    # Every evaluation of the search, the original's included, is in the archive.
    assert evaluated == summary["evaluations"]
    # The planted speed-up survives minimisation as one edit and the canary gate.
    assert summary["promoted"]
    promoted = summary["gated"][0]
    assert promoted["promoted"] is True
    assert promoted["edits"] == 1
    assert promoted["verdict"] == "pass"
    with Archive.open(summary["archive"], readonly=True) as stored:
        verdict = stored.verdict(summary["run_id"], promoted["candidate_id"])
    assert verdict is not None
    assert verdict.promoted is True


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_best_candidate_reevaluates_the_same(stats_example: Path, tmp_path: Path, mode):
    # A fork of a started guest and a fresh guest lay out the heap differently, so each
    # mode is checked against an evaluation of the same mode.
    run_flags = ("--cold",) if mode == "cold" else ()
    eval_flags = ("--warm",) if mode == "warm" else ()
    result = evolver(
        "run", str(stats_example), "--budget", "24", "--seed", "2", "--finalists", "0",
        "--json", *run_flags,
    )
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
        "--json", *eval_flags,
    )
    assert check.returncode == 0, check.stderr
    evaluation = json.loads(check.stdout)
    assert evaluation["failures"] == best["failures"]
    assert evaluation["cost"] == best["cost"]


def test_same_seed_gives_same_run(stats_example: Path):
    flags = ("--budget", "14", "--seed", "5", "--finalists", "0", "--json")
    first = evolver("run", str(stats_example), *flags)
    second = evolver("run", str(stats_example), *flags)
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


def test_target_import_error(stats_example: Path):
    target = stats_example / "stats.py"
    target.write_text(target.read_text() + "\nraise ValueError('target import boom')\n")
    result = evolver("run", str(stats_example))
    assert result.returncode == EXIT_USAGE
    assert "The target" in result.stderr
    assert "target import boom" in result.stderr
    assert 'stats.py", line' in result.stderr


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


def test_ctrl_c_reports_what_was_kept(tmp_path: Path):
    target, suite = spin_example(tmp_path / "spin")
    run_dir = tmp_path / "runs"
    archive_path = run_dir / "archive.sqlite"
    process = start_evolver(
        "run", "--target", str(target), "--suite", str(suite),
        "--run-dir", str(run_dir), "--budget", "12", "--population", "2", "--workers", "2", "--seconds", "120",
        "--json",
    )
    try:
        wait_for_generation(archive_path, 0, process)
        # Generation 1 is now being evaluated: its variants loop until the time limit.
        time.sleep(1.5)
        workers = child_pids(process.pid)
        interrupted = time.monotonic()
        # A terminal sends Ctrl-C to every process of the foreground job.
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    exit_seconds = time.monotonic() - interrupted

    assert process.returncode == EXIT_INTERRUPTED, stderr
    # Workers are killed, not waited for through the 120 s of their evaluations.
    assert exit_seconds < 10
    report = json.loads(stdout)
    assert report["exit_code"] == EXIT_INTERRUPTED
    assert report["archive"] == str(archive_path)
    assert report["generations_saved"] == 1
    assert run_status(archive_path, report["run_id"]) == "interrupted"
    assert report["run_id"] in stderr
    assert str(archive_path) in stderr
    assert "1 saved generation (generation 0)" in stderr
    assert "Generation 1 was being evaluated and is lost" in stderr
    for noise in ("Traceback", "KeyboardInterrupt", "BrokenPipeError"):
        assert noise not in stderr
    assert workers
    deadline = time.monotonic() + 10
    while not all(process_ended(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers {workers} still run"
        time.sleep(0.1)


def test_killed_run_is_marked_interrupted(stats_example: Path, tmp_path: Path):
    run_dir = tmp_path / "runs"
    archive_path = run_dir / "archive.sqlite"
    process = start_evolver(
        "run", str(stats_example), "--run-dir", str(run_dir), "--budget", "40", "--finalists", "0",
        "--population", "2", "--workers", "2", "--seconds", "20",
    )
    try:
        wait_for_generation(archive_path, 0, process)
        time.sleep(1)
        # Only the parent dies; its workers find the pipe closed when they finish.
        os.kill(process.pid, signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    with Archive.open(archive_path) as stored:
        (killed,) = stored.runs()
        assert killed.status == "running"
        assert killed.config["_process"] == {
            "pid": process.pid,
            "host": socket.gethostname(),
        }
        # A run of a live process and a run from another host stay as they are.
        alive = stored.create_run(
            target_path="m.py", target_source="", seed=0,
            config={"_process": {"pid": os.getpid(), "host": socket.gethostname()}},
        )
        elsewhere = stored.create_run(
            target_path="m.py", target_source="", seed=0,
            config={"_process": {"pid": process.pid, "host": "another-host"}},
        )

    result = evolver(
        "run", str(stats_example), "--run-dir", str(run_dir), "--budget", "1"
    )
    assert result.returncode == 0, result.stderr
    assert f"Marked run {killed.run_id} as interrupted" in result.stderr
    assert run_status(archive_path, killed.run_id) == "interrupted"
    assert run_status(archive_path, alive.run_id) == "running"
    assert run_status(archive_path, elsewhere.run_id) == "running"
    summary_line = "1 evaluation (the original and 0 variants) in 0 generations"
    assert summary_line in result.stdout
    assert "No variant was evaluated." in result.stdout


def test_no_improvement_is_said(stats_example: Path):
    suite = stats_example / "test_stats.py"
    source = suite.read_text()
    suite.write_text(source[: source.index("def bench_")])
    result = evolver(
        "run", str(stats_example), "--budget", "4", "--population", "2",
        "--workers", "2",
    )
    assert result.returncode == 0, result.stderr
    assert "defines no bench_* function" in result.stderr
    assert "evaluations 4/4" in result.stderr
    assert "4 evaluations (the original and 3 variants)" in result.stdout
    assert "No variant improved on the original" in result.stdout
    assert "Best candidate" not in result.stdout
    assert "Original and best candidates" in result.stdout

    with Archive.open(stats_example / ".evolver" / "archive.sqlite") as stored:
        summary = stored.latest_run().summary
    assert summary["improved"] is False
    assert summary["best"]
    assert not any(entry["improved"] for entry in summary["best"])
    (warning,) = summary["warnings"]
    assert "cost cannot improve" in warning


def test_passing_variant_ranks_first():
    def candidate(failures: int, cost: float, outcome: str, edits: int) -> Candidate:
        variant = Candidate((), "", str(failures) + outcome, (), "mutation:add", 1)
        variant.set_evaluation(
            Evaluation(
                fitness=Fitness(failures=failures, cost=cost, edits=edits),
                outcome=outcome,
                meter="fuel",
                tests=(),
                benchmarks={},
                detail="",
                stderr_tail="",
                wall_seconds=0.0,
            )
        )
        return variant

    # Without benchmarks a passing candidate costs 0, which gives no cost bucket,
    # so only the passing rank keeps it ahead of a smaller patch that ran out of
    # memory after its tests.
    passing = candidate(0, 0.0, "ok", edits=3)
    out_of_memory = candidate(0, float("inf"), "memory", edits=1)
    failing = candidate(1, float("inf"), "ok", edits=1)
    ranked = sorted([failing, out_of_memory, passing], key=_rank_key)
    assert ranked == [passing, out_of_memory, failing]


def test_counts_are_pluralised():
    assert format_count(1, "duplicate") == "1 duplicate"
    assert format_count(0, "duplicate") == "0 duplicates"
    assert format_count(2, "invalid variant") == "2 invalid variants"


#: The number of functions in the module that the start-up test generates.
#: With six lines and a blank line each, 500 give 3,500 lines and millions
#: of possible edits.
LARGE_TARGET_FUNCTIONS = 500


def test_load_inputs_lists_no_edits(tmp_path, monkeypatch):
    lines = []
    for index in range(LARGE_TARGET_FUNCTIONS):
        lines += [
            f"def f{index}(values, limit):",
            "    total = 0",
            "    for value in values:",
            "        if value < limit:",
            f"            total = total + value * {index % 7 + 1}",
            "    return total",
            "",
        ]
    (tmp_path / "big.py").write_text("\n".join(lines))
    (tmp_path / "test_big.py").write_text(
        "import big\n\n\ndef test_f0():\n    assert big.f0([1, 5], 3) == 2\n"
    )
    listed = []
    list_sites = BaseOperator.sites

    def record_sites(operator: BaseOperator, target: Target) -> list[Edit]:
        listed.append(operator.name)
        return list_sites(operator, target)

    monkeypatch.setattr(BaseOperator, "sites", record_sites)
    config = build_config(
        {"target": "big.py", "suite": "test_big.py"}, {}, tmp_path, "evolver.toml"
    )

    target, _ = load_inputs(config)
    # Listing every edit would build millions of Edit objects.
    assert OPERATORS["move_statement"].count(target) > 10_000_000
    assert listed == []


def test_empty_target_is_rejected(stats_example: Path):
    (stats_example / "stats.py").write_text("# Nothing here yet.\n")
    result = evolver(
        "run", "--target", str(stats_example / "stats.py"), "--suite",
        str(stats_example / "test_stats.py"),
    )
    assert result.returncode == EXIT_USAGE
    assert "No statement of" in result.stderr
    assert "can be edited" in result.stderr
    assert "Check functions" in result.stderr
    assert "Traceback" not in result.stderr


def test_folder_as_target_flag(stats_example: Path):
    result = evolver(
        "run", "--target", str(stats_example), "--suite",
        str(stats_example / "test_stats.py"),
    )
    assert result.returncode == EXIT_USAGE
    assert "is a folder, not a file" in result.stderr
    assert "--target" in result.stderr


def test_output_kb_flag_reaches_config(stats_example: Path):
    from evolver._run_command import load_run_config

    arguments = build_parser().parse_args(
        ["run", str(stats_example), "--output-kb", "64"]
    )
    config = load_run_config(arguments)
    assert config.output_kb == 64
    assert config.limits.output_bytes == 64 * 1024


def test_bad_output_kb_flag(stats_example: Path):
    result = evolver("run", str(stats_example), "--output-kb", "0")
    assert result.returncode == EXIT_USAGE
    assert "Invalid value 0 for output_kb" in result.stderr


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--fuel", "10"], "fuel"),
        (["--memory-mb", "1"], "memory_mb"),
        (["--seconds", "0"], "seconds"),
        (["--output-kb", "0"], "output_kb"),
        (["--module", "stats.py"], "--module"),
        (["--module", "class"], "--module"),
    ],
)
def test_eval_bad_flags(flags, fragment):
    result = evolver(
        "eval", str(EXAMPLES / "stats" / "stats.py"), "--suite",
        str(EXAMPLES / "stats" / "test_stats.py"), *flags,
    )
    assert result.returncode == EXIT_USAGE
    assert "Invalid value" in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("role", ["candidate", "suite"])
def test_eval_folder_is_not_a_file(role):
    folder = EXAMPLES / "stats"
    candidate = folder if role == "candidate" else folder / "stats.py"
    suite = folder if role == "suite" else folder / "test_stats.py"
    result = evolver("eval", str(candidate), "--suite", str(suite))
    assert result.returncode == EXIT_USAGE
    assert f"The {role} {folder} is a folder, not a file." in result.stderr
    assert "does not exist" not in result.stderr


def test_eval_hints_module_name(tmp_path: Path):
    candidate = tmp_path / "variant.py"
    candidate.write_text((EXAMPLES / "stats" / "stats.py").read_text())
    suite = str(EXAMPLES / "stats" / "test_stats.py")
    result = evolver("eval", str(candidate), "--suite", suite, "--check")
    assert result.returncode == EXIT_TESTS_FAILED, result.stderr
    assert "pass --module stats" in " ".join(result.stdout.split())

    fixed = evolver(
        "eval", str(candidate), "--suite", suite, "--module", "stats", "--check",
        "--seconds", "30", "--output-kb", "64", "--json",
    )
    assert fixed.returncode == 0, fixed.stderr
    evaluation = json.loads(fixed.stdout)
    assert evaluation["failures"] == 0
    assert evaluation["hints"] == []


def test_eval_help_documents_check():
    result = evolver("eval", "--help")
    assert result.returncode == 0
    assert "--check" in result.stdout
    assert "--output-kb" in result.stdout
    assert "with eval --check" in result.stdout


def test_operator_weights_steer_the_search(stats_example: Path):
    names = json.loads(evolver("operators", "--json").stdout)["operators"]
    weights = "\n".join(
        f"{entry['name']} = {1 if entry['name'] == 'delete_statement' else 0}"
        for entry in names
    )
    config = stats_example / "evolver.toml"
    config.write_text(config.read_text() + "\n[operators]\n" + weights + "\n")
    result = evolver(
        "run", str(stats_example), "--budget", "6", "--population", "3",
        "--finalists", "0", "--json",
    )
    assert result.returncode == 0, result.stderr
    with Archive.open(json.loads(result.stdout)["archive"], readonly=True) as stored:
        (run,) = stored.runs()
        operators = {
            edit["operator"] for record in stored.candidates(run.run_id)
            for edit in record.genome
        }
    assert operators == {"delete_statement"}


def test_unknown_operator_weight(stats_example: Path):
    config = stats_example / "evolver.toml"
    config.write_text(config.read_text() + "\n[operators]\ndelete_statment = 2\n")
    result = evolver("run", str(stats_example), "--budget", "2")
    assert result.returncode == EXIT_USAGE
    assert "delete_statment" in result.stderr
    assert "delete_statement" in result.stderr


@pytest.mark.parametrize("name", ["guard", "harness"])
def test_reserved_module_name_is_rejected(tmp_path: Path, name: str):
    (tmp_path / f"{name}.py").write_text("def add(a, b):\n    return a + b\n")
    suite = tmp_path / f"test_{name}.py"
    suite.write_text(f"import {name}\n\ndef test_add():\n    assert {name}.add(1, 2) == 3\n")
    ran = evolver("run", "--target", str(tmp_path / f"{name}.py"), "--suite", str(suite))
    evaluated = evolver("eval", str(tmp_path / f"{name}.py"), "--suite", str(suite))
    for result in (ran, evaluated):
        assert result.returncode == EXIT_USAGE, result.stderr
        assert f"The module name {name!r} is taken" in result.stderr
