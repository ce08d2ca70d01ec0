"""Lexicase, islands, operator adaptation and stop rules on the stats example."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from archive import Archive

from .test_cli import evolver, start_evolver, wait_for_generation
from .test_resume import STATS, archive_contents

#: Small runs of the stats example, so that each has several generations.
SMALL = ("--budget", "30", "--population", "6", "--seed", "1", "--finalists", "0")
LEXICASE = (*SMALL, "--selection", "lexicase", "--adapt-operators")
ISLANDS = (*SMALL, "--selection", "islands", "--islands", "3", "--migration-interval", "2")

#: The planted speed-up of stats.normalise (the sum taken once, not per item)
#: cuts the benchmark's fuel to about a fifth; half is far from both.
SPEED_UP = 0.5


def run_stats(run_dir: Path, *flags: str) -> dict:
    result = evolver("run", str(STATS), "--run-dir", str(run_dir), *flags, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored_operator_stats(path: Path) -> list[tuple]:
    with Archive.open(path, readonly=True) as stored:
        (run,) = stored.runs()
        return [
            (r.generation, r.operator, r.uses, r.improvements, r.probability)
            for r in stored.operator_stats(run.run_id)
        ]


def best_cost(summary: dict) -> float:
    passing = [entry["cost"] for entry in summary["best"] if entry["failures"] == 0]
    return min(passing)


@pytest.fixture(scope="module")
def lexicase_run(tmp_path_factory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("lexicase")
    return run_dir, run_stats(run_dir, *LEXICASE, "--workers", "2")


def test_lexicase_finds_speed_up(lexicase_run):
    _, summary = lexicase_run
    assert summary["selection"] == "lexicase"
    assert summary["stopped"] == "budget"
    assert summary["evaluations"] == 30
    assert best_cost(summary) < SPEED_UP * summary["original"]["cost"]


def test_operator_stats_in_archive(lexicase_run):
    run_dir, summary = lexicase_run
    rows = stored_operator_stats(run_dir / "archive.sqlite")
    generations = sorted({row[0] for row in rows})
    assert generations == list(range(1, summary["generations"] + 1))
    uses = {}
    for _, operator, used, improved, _ in rows:
        uses[operator] = uses.get(operator, 0) + used
    reported = {entry["operator"]: entry["uses"] for entry in summary["operators"]}
    assert reported == {name: count for name, count in uses.items() if count}
    last = [row[4] for row in rows if row[0] == generations[-1]]
    assert sum(last) == pytest.approx(1.0)
    # Adaptation moved the probabilities away from the equal prior.
    assert len(set(last)) > 1


def test_status_reports_operators(lexicase_run):
    run_dir, summary = lexicase_run
    shown = evolver("status", "--run-dir", str(run_dir), "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["stopped"] == "budget"
    assert report["operators"] == summary["operators"]
    text = evolver("status", "--run-dir", str(run_dir))
    assert "Operators (adapted probabilities):" in text.stdout
    assert "Stopped: budget" in text.stdout


def generation_standings(path: Path) -> dict[int, list[tuple[bool, int, float]]]:
    """Return (passing, failures, cost) of each generation's evaluated variants."""
    with Archive.open(path, readonly=True) as stored:
        (run,) = stored.runs()
        by_generation: dict[int, list] = {}
        for record in stored.candidates(run.run_id):
            if record.outcome == "invalid":
                continue
            passing = record.outcome == "ok" and record.failures == 0
            cost = record.cost if record.cost is not None else float("inf")
            by_generation.setdefault(record.generation, []).append(
                (passing, record.failures, cost)
            )
        return by_generation


def test_plateau_stops_after_stale_generations(tmp_path: Path):
    plateau = 2
    summary = run_stats(
        tmp_path, "--budget", "60", "--population", "4", "--seed", "2",
        "--finalists", "0", "--plateau", str(plateau), "--workers", "2",
    )  # fmt: skip
    assert summary["stopped"] == "plateau"
    standings = generation_standings(tmp_path / "archive.sqlite")
    ((best,),) = [standings.pop(0)]
    last_improvement = 0
    for generation in sorted(standings):
        for passing, failures, cost in standings[generation]:
            better = (not best[0] and passing) or (
                passing == best[0]
                and (failures < best[1] or (failures == best[1] and cost * 1.01 < best[2]))
            )
            if better:
                best = (passing, failures, cost)
                last_improvement = generation
    assert summary["generations"] == last_improvement + plateau
    assert max(standings) == last_improvement + plateau


def test_islands_reach_target_cost(tmp_path: Path):
    target = 30_000_000
    summary = run_stats(
        tmp_path, *ISLANDS, "--budget", "60", "--target-cost", str(target), "--workers", "2"
    )
    assert summary["selection"] == "islands"
    assert summary["stopped"] == "target_cost"
    assert "target cost" in summary["stop_detail"]
    assert target < SPEED_UP * summary["original"]["cost"]
    assert best_cost(summary) <= target
    standings = generation_standings(tmp_path / "archive.sqlite")
    hits = [
        generation
        for generation, entries in standings.items()
        if generation > 0 and any(p and cost <= target for p, _, cost in entries)
    ]
    assert min(hits) == max(standings)
    assert summary["generations"] == max(standings)
    assert summary["evaluations"] < 60


def test_time_budget_names_reason(tmp_path: Path):
    summary = run_stats(tmp_path, *SMALL, "--time-budget", "0.001", "--workers", "1")
    assert summary["stopped"] == "time_budget"
    assert summary["stop_detail"] == "the time budget ran out"
    # The clock runs while the original is evaluated, so no generation starts.
    assert summary["generations"] == 0
    assert summary["evaluations"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [LEXICASE, ISLANDS], ids=["lexicase", "islands"])
def test_workers_do_not_change_run(tmp_path: Path, strategy):
    archives = []
    for workers in ("1", "2"):
        run_stats(tmp_path / workers, *strategy, "--workers", workers)
        path = tmp_path / workers / "archive.sqlite"
        archives.append((archive_contents(path), stored_operator_stats(path)))
    assert archives[0] == archives[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "strategy",
    [LEXICASE, (*ISLANDS, "--adapt-operators")],
    ids=["lexicase", "islands"],
)
def test_killed_run_resumes_exactly(tmp_path: Path, strategy):
    whole = tmp_path / "whole"
    run_stats(whole, *strategy, "--workers", "2")
    expected = (
        archive_contents(whole / "archive.sqlite"),
        stored_operator_stats(whole / "archive.sqlite"),
    )
    path = tmp_path / "killed" / "archive.sqlite"
    location = ("run", str(STATS), "--run-dir", str(path.parent))
    process = start_evolver(*location, *strategy, "--workers", "2")
    try:
        wait_for_generation(path, 2, process)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    resumed = evolver(*location, "--resume", "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming run" in resumed.stderr
    assert (archive_contents(path), stored_operator_stats(path)) == expected
