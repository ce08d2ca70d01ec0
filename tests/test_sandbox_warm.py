"""The warm wasm mode: jobs run in forks of one started guest.

Each fork starts from the same memory image, so these tests check what that promises:
a candidate is charged the same fuel whatever ran before it, in this guest or in
another warm guest; nothing a candidate does reaches the next one; jobs the warm guest
was not started for run in fresh guests; and the processes behind the mode end with
their owner. The hostile candidates of `test_hostile.py` run in this mode as well.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from fitness import EvaluationSettings, build_job, evaluate, score, warm_sandbox
from sandbox import Job, Limits, Outcome, remove_orphaned_folders

from .test_fitness import GOOD, HOSTILE, SUITE, WRONG

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(wall_seconds=20, memory_bytes=256 * 1024 * 1024, fuel=20_000_000_000)
SETTINGS = EvaluationSettings(max_examples=10, limits=LIMITS)

#: Candidates that change what they can reach in the guest: the builtins, hypothesis,
#: the guard, the out folder, the harness's modules, the interpreter's caches.
POISONERS = {
    "builtins": "import builtins\nbuiltins.len = lambda value: 0\ndef square(n):\n    return n * n\n",
    "hypothesis": (
        "import hypothesis\nhypothesis.given = None\n"
        "def square(n):\n    return n * n\n"
    ),
    "out_folder": (
        "import os\n"
        "os.makedirs('/out/left/behind', exist_ok=True)\n"
        "open('/out/report.jsonl.next', 'w').write('x' * 1000)\n"
        "def square(n):\n    return n * n\n"
    ),
    "module_cache": (
        "import sys, types\n"
        "sys.modules['math'] = types.ModuleType('math')\n"
        "def square(n):\n    return n * n\n"
    ),
    "memory": "BIG = bytearray(150 * 1024 * 1024)\ndef square(n):\n    return n * n\n",
    "endless": "def square(n):\n    while True:\n        pass\n",
}


@pytest.fixture(scope="module")
def warm():
    sandbox = warm_sandbox(LIMITS.memory_bytes)
    yield sandbox
    sandbox.close()


def run_good(sandbox):
    job = build_job(GOOD, "target", SUITE, SETTINGS)
    result = sandbox.run(job)
    return result, score(result, SUITE, 0, job.report_key)


def spans(result) -> list[float]:
    """Return the fuel between each pair of meter marks."""
    marks = result.marks
    return [marks[index + 1] - marks[index] for index in range(0, len(marks), 2)]


def test_fuel_is_the_candidates_own(warm):
    first, first_score = run_good(warm)
    for source in [*POISONERS.values(), WRONG]:
        evaluate(warm, source, "target", SUITE, SETTINGS)
    again, again_score = run_good(warm)
    other = warm_sandbox(LIMITS.memory_bytes)
    try:
        elsewhere, _ = run_good(other)
    finally:
        other.close()

    assert first.outcome is Outcome.OK
    assert first_score.passed
    assert math.isfinite(first_score.fitness.cost)
    # What a candidate is charged is the fuel between each benchmark's two marks, and
    # that is the same to the unit. The fuel of the whole job is not charged; like a
    # fresh guest's, it can differ by a few hundred units in a few hundred million.
    assert spans(again) == spans(first) == spans(elsewhere)
    assert again_score.benchmarks == first_score.benchmarks
    assert again_score.fitness.cost == first_score.fitness.cost
    assert abs(again.usage - first.usage) < 1e-5 * first.usage


@pytest.mark.parametrize("case", sorted(POISONERS))
def test_poison_stays_with_its_candidate(warm, case):
    before, before_score = run_good(warm)
    evaluate(warm, POISONERS[case], "target", SUITE, SETTINGS)
    after, after_score = run_good(warm)
    assert after_score.passed, after_score.detail
    assert spans(after) == spans(before)
    assert after_score.benchmarks == before_score.benchmarks


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_forgeries_fail(warm, case):
    forks = warm.forks
    evaluation = evaluate(warm, HOSTILE[case], "target", SUITE, SETTINGS)
    assert warm.forks == forks + 1
    assert evaluation.fitness.failures == len(SUITE.tests)
    assert math.isinf(evaluation.fitness.cost)


def test_outcomes_agree_with_fresh_guests(warm, wasm_sandbox):
    results = {}
    for name, source in (("good", GOOD), ("wrong", WRONG)):
        warm_result = evaluate(warm, source, "target", SUITE, SETTINGS)
        cold_result = evaluate(wasm_sandbox, source, "target", SUITE, SETTINGS)
        assert warm_result.outcome == cold_result.outcome == "ok"
        assert [t.passed for t in warm_result.tests] == [t.passed for t in cold_result.tests]
        results[name] = warm_result
    assert results["good"].fitness.failures == 0
    assert results["wrong"].fitness.failures > 0


def test_other_jobs_run_in_fresh_guests(warm):
    forks = warm.forks
    job = build_job(GOOD, "target", SUITE, SETTINGS)
    plain = Job(files={"main.py": b"print(6 * 7)\n"}, argv=("main.py",), limits=LIMITS)
    with_env = dataclasses.replace(job, env={"EXTRA": "1"})
    other_memory = build_job(
        GOOD, "target", SUITE, EvaluationSettings(limits=Limits(memory_bytes=64 << 20))
    )
    assert warm.run(plain).stdout == b"42\n"
    assert score(warm.run(with_env), SUITE, 0, job.report_key).passed
    assert score(warm.run(other_memory), SUITE, 0, other_memory.report_key).passed
    assert warm.forks == forks


def test_output_and_deadline_are_enforced(warm):
    loud = "import sys\nsys.stdout.write('x' * 5_000_000)\ndef square(n):\n    return n * n\n"
    evaluation = evaluate(warm, loud, "target", SUITE, SETTINGS)
    assert evaluation.outcome == Outcome.OUTPUT.value
    sleeper = "import time\ntime.sleep(10**6)\ndef square(n):\n    return n * n\n"
    evaluation = evaluate(warm, sleeper, "target", SUITE, SETTINGS)
    assert evaluation.outcome == Outcome.TIMEOUT.value
    assert evaluation.wall_seconds < LIMITS.wall_seconds
    assert run_good(warm)[1].passed


def test_dead_server_is_restarted(tmp_path):
    sandbox = warm_sandbox(LIMITS.memory_bytes)
    try:
        os.kill(sandbox._server.pid, signal.SIGKILL)
        sandbox._server.wait()
        # The job had not started when the server died, so it runs on a new server.
        assert evaluate(sandbox, GOOD, "target", SUITE, SETTINGS).passed
        assert run_good(sandbox)[1].passed
    finally:
        sandbox.close()
    assert not sandbox._folder.exists()


def test_dead_spare_child_is_replaced(warm):
    assert run_good(warm)[1].passed
    # The child of the last job may still be ending; the spare is the one left.
    deadline = time.monotonic() + 10
    while len(_children(warm._server.pid)) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    (spare,) = _children(warm._server.pid)
    os.kill(spare, signal.SIGKILL)
    assert run_good(warm)[1].passed


def _children(parent: int) -> list[int]:
    """Return the living processes whose parent is `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == parent:
            found.append(int(entry))
    return found


#: A target whose tests request random bytes of sizes no harness request has.
RANDOM_TOKENS = "import secrets\n\ndef square(n):\n    secrets.token_bytes(67)\n    return n * n\n"
#: A target that exits with a status WASI does not allow.
BAD_STATUS = "import os\nos._exit(126)\ndef square(n):\n    return n * n\n"


def test_unusual_candidates_agree_with_fresh_guests(warm, wasm_sandbox):
    for source in (RANDOM_TOKENS, BAD_STATUS):
        warm_result = evaluate(warm, source, "target", SUITE, SETTINGS)
        cold_result = evaluate(wasm_sandbox, source, "target", SUITE, SETTINGS)
        assert warm_result.outcome == cold_result.outcome
        assert warm_result.passed == cold_result.passed
        assert warm_result.detail == cold_result.detail
    assert evaluate(warm, RANDOM_TOKENS, "target", SUITE, SETTINGS).passed
    assert evaluate(warm, BAD_STATUS, "target", SUITE, SETTINGS).outcome == "exit"


OWNER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from fitness import warm_sandbox
    sandbox = warm_sandbox()
    print(sandbox._server.pid, flush=True)
    time.sleep(600)
    """
)


def test_server_ends_with_its_owner(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        server = int(owner.stdout.readline())
        assert _alive(server)
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killed_worker_leaves_no_folder(tmp_path, monkeypatch):
    from evolver._executor import LocalExecutor, Task

    # Spawned workers read TMPDIR; this process has cached its temporary folder.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    executor = LocalExecutor("wasm", 1, warm_memory=LIMITS.memory_bytes)
    try:
        (evaluation,) = executor.evaluate_many([Task(GOOD, "target", SUITE, SETTINGS, 0)])
        folders = list(tmp_path.glob("evolver-warm-*"))
    finally:
        executor.close(kill=True)

    assert evaluation.passed
    assert len(folders) == 1
    assert not folders[0].exists()


def test_orphaned_folders_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"evolver-warm-{dead.pid}-abc"
    owned = tmp_path / f"evolver-warm-{os.getpid()}-abc"
    unrelated = tmp_path / "evolver-warm-notapid-abc"
    for folder in (orphan, owned, unrelated):
        (folder / "job").mkdir(parents=True)

    assert remove_orphaned_folders(tmp_path) == 1
    assert not orphan.exists()
    assert owned.exists()
    assert unrelated.exists()
