"""Runs killed at any moment resume exactly; workers do not change a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from archive import Archive
from evolver._errors import ConfigError
from evolver._resume import claim_archive

from .conftest import EXAMPLES
from .test_cli import EXIT_USAGE, child_pids, evolver, start_evolver, wait_for_generation

#: Runs read the bundled example in place; their archives go to temporary folders.
STATS = EXAMPLES / "stats"

#: Settings of every run in this file: small, so that a run has several generations.
RUN = ("--budget", "30", "--population", "6", "--seed", "1", "--finalists", "1")


def archive_contents(path: Path) -> tuple[list, dict]:
    """Return a run's candidates and summary, without ids and timing fields."""
    with Archive.open(path, readonly=True) as stored:
        (run,) = stored.runs()
        rows = []
        for record in stored.candidates(run.run_id):
            detail = {k: v for k, v in record.detail.items() if k != "wall_seconds"}
            rows.append(
                (
                    record.candidate_id,
                    record.generation,
                    record.genome,
                    record.parents,
                    record.operator,
                    record.outcome,
                    record.failures,
                    record.cost,
                    json.dumps(detail, sort_keys=True),
                )
            )
        summary = {
            key: value
            for key, value in run.summary.items()
            if key not in ("run_id", "archive", "elapsed_seconds")
        }
        return rows, {"status": run.status, **summary}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[list, dict]:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    result = evolver("run", str(STATS), "--run-dir", str(run_dir), *RUN, "--workers", "1")
    assert result.returncode == 0, result.stderr
    return archive_contents(run_dir / "archive.sqlite")


def test_two_workers_give_the_same_run(tmp_path: Path, uninterrupted):
    result = evolver("run", str(STATS), "--run-dir", str(tmp_path), *RUN, "--workers", "2")
    assert result.returncode == 0, result.stderr
    rows, summary = archive_contents(tmp_path / "archive.sqlite")
    assert len(rows) >= 20
    assert (rows, summary) == uninterrupted


def test_killed_runs_resume_exactly(tmp_path: Path, uninterrupted):
    archive_path = tmp_path / "archive.sqlite"
    location = ("run", str(STATS), "--run-dir", str(tmp_path))
    process = start_evolver(*location, *RUN, "--workers", "2")
    kills = 0
    # Kill the run as soon as each of these generations is on disk, while the next
    # one is being evaluated, and last while the canary gate runs. Resume after each.
    for generation in (0, 2, 3, None):
        try:
            if generation is None:
                wait_for_line(process, "Canary gate for")
            else:
                wait_for_generation(archive_path, generation, process)
            time.sleep(0.3)
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=60)
            kills += 1
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        process = start_evolver(*location, "--resume", "--workers", "2")
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert "Resuming run" in stderr
    assert kills == 4
    assert archive_contents(archive_path) == uninterrupted


def test_killed_worker_is_replaced(tmp_path: Path, uninterrupted):
    process = start_evolver("run", str(STATS), "--run-dir", str(tmp_path), *RUN, "--workers", "2")
    try:
        wait_for_generation(tmp_path / "archive.sqlite", 1, process)
        time.sleep(0.5)
        # The run's workers are its child processes; one of them dies mid-evaluation.
        workers = child_pids(process.pid)
        assert workers
        os.kill(workers[0], signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr
    # The lost evaluation was retried, so nothing differs from a run without the kill.
    assert archive_contents(tmp_path / "archive.sqlite") == uninterrupted


def wait_for_line(process, text: str) -> None:
    """Read the run's stderr until a line contains `text`."""
    for line in process.stderr:
        if text in line:
            return
    raise AssertionError(f"the run ended without printing {text!r}")


def test_ctrl_c_message_resumes(tmp_path: Path, uninterrupted):
    process = start_evolver(
        "run", str(STATS), "--run-dir", str(tmp_path), *RUN, "--workers", "1", "--json"
    )
    try:
        wait_for_generation(tmp_path / "archive.sqlite", 1, process)
        os.killpg(process.pid, signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    hint = json.loads(stdout)["resume"]
    assert hint.startswith("evolver run --run-dir ")
    resumed = evolver(*hint.split()[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert archive_contents(tmp_path / "archive.sqlite") == uninterrupted


def test_status_while_running(tmp_path: Path):
    process = start_evolver("run", str(STATS), "--run-dir", str(tmp_path), *RUN, "--workers", "1")
    try:
        wait_for_generation(tmp_path / "archive.sqlite", 1, process)
        shown = evolver("status", "--run-dir", str(tmp_path), "--json")
        text = evolver("status", "--run-dir", str(tmp_path))
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["status"] == "running"
    assert report["budget"] == 30
    assert report["generations"] >= 2
    assert report["evaluations"] >= 2
    assert f"Run {report['run_id']} of " in text.stdout
    gone = json.loads(evolver("status", "--run-dir", str(tmp_path), "--json").stdout)
    assert gone["status"] == "running (process gone)"


def test_resume_refuses_changed_settings(stats_example: Path, tmp_path: Path):
    finished = evolver("run", str(stats_example), "--run-dir", str(tmp_path), "--budget", "1")
    assert finished.returncode == 0, finished.stderr
    again = evolver("run", str(stats_example), "--run-dir", str(tmp_path), "--resume")
    assert again.returncode == EXIT_USAGE
    assert "no interrupted or failed run to resume" in again.stderr
    with Archive.open(tmp_path / "archive.sqlite") as stored:
        (run,) = stored.runs()
        stored.finish_run(run.run_id, "interrupted", {})
    changed = evolver(
        "run", str(stats_example), "--run-dir", str(tmp_path), "--resume", "--seed", "9"
    )
    assert changed.returncode == EXIT_USAGE
    assert "--seed cannot change when resuming" in changed.stderr


def test_resume_refuses_changed_suite(stats_example: Path):
    folder = stats_example
    finished = evolver("run", str(folder), "--budget", "1")
    assert finished.returncode == 0, finished.stderr
    with Archive.open(folder / ".evolver" / "archive.sqlite") as stored:
        (run,) = stored.runs()
        stored.finish_run(run.run_id, "interrupted", {})
    with (folder / "test_stats.py").open("a") as suite:
        suite.write("\n\ndef test_more():\n    assert True\n")
    result = evolver("run", str(folder), "--resume", run.run_id)
    assert result.returncode == EXIT_USAGE
    assert "changed since run" in result.stderr


def test_resume_refuses_truncated_archive(stats_example: Path, tmp_path: Path):
    finished = evolver("run", str(stats_example), "--run-dir", str(tmp_path), "--budget", "2")
    assert finished.returncode == 0, finished.stderr
    path = tmp_path / "archive.sqlite"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    result = evolver("run", str(stats_example), "--run-dir", str(tmp_path), "--resume")
    assert result.returncode == EXIT_USAGE
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_read_only_run_folder(stats_example: Path, tmp_path: Path):
    if os.geteuid() == 0:
        # root writes through permission bits, so use a folder below a file instead.
        blocker = tmp_path / "file"
        blocker.write_text("")
        result = evolver("run", str(stats_example), "--run-dir", str(blocker / "runs"))
        assert result.returncode == EXIT_USAGE
        assert "is a file" in result.stderr
        return
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    result = evolver("run", str(stats_example), "--run-dir", str(folder))
    assert result.returncode == EXIT_USAGE
    assert "not writable" in result.stderr


WRITER = textwrap.dedent(
    """
    import sys
    from archive import Archive, CandidateRecord

    archive = Archive.open(sys.argv[1])
    run = archive.create_run(target_path="m.py", target_source="", seed=0, config={})
    print(run.run_id, flush=True)
    for generation in range(10_000):
        archive.add_generation(run.run_id, generation, [
            CandidateRecord(
                candidate_id=f"{generation}-{index}", run_id=run.run_id,
                generation=generation, source_hash="h", source="x" * 2000, genome=[],
                parents=(), operator="mutation:add", outcome="ok", failures=0,
                cost=1.0, edits=0, detail={"pad": "y" * 2000},
            )
            for index in range(200)
        ])
    """
)


@pytest.mark.parametrize("delay", [0.7, 1.3, 2.1])
def test_kill_during_commit_keeps_whole_generations(tmp_path: Path, delay: float):
    path = tmp_path / "archive.sqlite"
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    ) as writer:
        run_id = writer.stdout.readline().strip()
        time.sleep(delay)
        writer.kill()
    with Archive.open(path) as stored:
        counts: dict[int, int] = {}
        for record in stored.candidates(run_id):
            counts[record.generation] = counts.get(record.generation, 0) + 1
    assert counts, "the writer stored nothing before it was killed"
    assert set(counts.values()) == {200}
    assert sorted(counts) == list(range(len(counts)))


def test_one_resume_at_a_time(tmp_path: Path):
    path = tmp_path / "archive.sqlite"
    first = claim_archive(path)
    try:
        with pytest.raises(ConfigError, match="Another evolver is resuming"):
            claim_archive(path)
    finally:
        first.close()
    claim_archive(path).close()


def test_resume_refuses_budget_change(stats_example: Path, tmp_path: Path):
    finished = evolver("run", str(stats_example), "--run-dir", str(tmp_path), "--budget", "2")
    assert finished.returncode == 0, finished.stderr
    with Archive.open(tmp_path / "archive.sqlite") as stored:
        (run,) = stored.runs()
        stored.finish_run(run.run_id, "interrupted", {})
    result = evolver(
        "run", str(stats_example), "--run-dir", str(tmp_path), "--resume", "--budget", "9"
    )
    assert result.returncode == EXIT_USAGE
    assert "--budget cannot change when resuming" in result.stderr
    unknown = evolver("run", "--run-dir", str(tmp_path), "--resume", "rnosuch")
    assert unknown.returncode == EXIT_USAGE
    assert "rnosuch" in unknown.stderr
    with Archive.open(tmp_path / "archive.sqlite", readonly=True) as stored:
        assert stored.run(run.run_id).status == "interrupted"
