"""The wasm backend bounds time, memory, output and reach, and meters fuel exactly."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from fitness import EvaluationSettings, Suite, build_job, score
from sandbox import Job, Limits, Outcome

LIMITS = Limits(wall_seconds=10, memory_bytes=256 * 1024 * 1024, fuel=20_000_000_000)
TRIVIAL_SUITE = Suite.from_source(
    "import target\n\ndef test_f():\n    assert target.f() == 1\n", "test_target.py"
)
SETTINGS = EvaluationSettings(max_examples=1)


def run(sandbox, code: str, limits: Limits = LIMITS):
    job = Job(files={"main.py": code.encode()}, argv=("main.py",), limits=limits)
    return sandbox.run(job)


def test_plain_program_is_ok(wasm_sandbox):
    result = run(wasm_sandbox, "print('hello')")
    assert result.outcome is Outcome.OK
    assert result.exit_code == 0
    assert result.stdout == b"hello\n"
    assert result.meter == "fuel"
    assert result.usage > 0


def test_fuel_is_deterministic(wasm_sandbox):
    code = "import os\nos.urandom(61)\nsum(i * i for i in range(20000))\nos.urandom(61)\n"
    first = run(wasm_sandbox, code)
    second = run(wasm_sandbox, code)
    assert len(first.marks) == 2
    assert first.marks == second.marks
    assert first.usage == second.usage


def test_marks_measure_only_the_bracketed_work(wasm_sandbox):
    template = "import os\nos.urandom(61)\nsum(range({n}))\nos.urandom(61)\n"
    small = run(wasm_sandbox, template.format(n=10_000))
    large = run(wasm_sandbox, template.format(n=100_000))
    small_cost = small.marks[1] - small.marks[0]
    large_cost = large.marks[1] - large.marks[0]
    assert 5 < large_cost / small_cost < 20


def test_infinite_loop_runs_out_of_fuel(wasm_sandbox):
    limits = Limits(fuel=2_000_000_000, wall_seconds=30)
    result = run(wasm_sandbox, "while True:\n    pass\n", limits)
    assert result.outcome is Outcome.FUEL


def test_wall_clock_deadline_interrupts(wasm_sandbox):
    limits = Limits(fuel=10**15, wall_seconds=1.0)
    started = time.monotonic()
    result = run(wasm_sandbox, "while True:\n    pass\n", limits)
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 5


def test_sleep_past_deadline_ends_at_once(wasm_sandbox):
    started = time.monotonic()
    result = run(wasm_sandbox, "import time\ntime.sleep(1000)\n")
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 5


def test_short_sleep_advances_virtual_clock(wasm_sandbox):
    code = "import time\nt = time.monotonic()\ntime.sleep(3)\nprint(time.monotonic() - t >= 3)"
    started = time.monotonic()
    result = run(wasm_sandbox, code)
    assert result.stdout == b"True\n"
    assert time.monotonic() - started < 3


def test_memory_growth_is_capped(wasm_sandbox):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))\n"
    result = run(wasm_sandbox, code)
    assert result.outcome is Outcome.MEMORY


def test_huge_output_is_cut(wasm_sandbox):
    limits = Limits(output_bytes=10_000, wall_seconds=10)
    result = run(wasm_sandbox, "while True:\n    print('x' * 1000)\n", limits)
    assert result.outcome is Outcome.OUTPUT
    assert len(result.stdout) <= 10_000


def test_out_folder_growth_is_cut(wasm_sandbox):
    limits = Limits(output_bytes=100_000, wall_seconds=10)
    code = "f = open('/out/big', 'wb')\nwhile True:\n    f.write(b'x' * 65536)\n"
    result = run(wasm_sandbox, code, limits)
    assert result.outcome is Outcome.OUTPUT


def test_host_files_are_out_of_reach(wasm_sandbox, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    code = (
        "import os\n"
        f"for path in ['/etc/passwd', {str(secret)!r}, {str(Path.home())!r}]:\n"
        "    try:\n"
        "        open(path).read()\n"
        "        print('read', path)\n"
        "    except OSError:\n"
        "        print('denied')\n"
    )
    result = run(wasm_sandbox, code)
    assert result.stdout == b"denied\ndenied\ndenied\n"


def test_job_files_are_read_only(wasm_sandbox):
    code = "try:\n    open('/job/main.py', 'w')\n    print('wrote')\nexcept OSError:\n    print('denied')\n"
    result = run(wasm_sandbox, code)
    assert result.stdout == b"denied\n"


def test_network_is_unavailable(wasm_sandbox):
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "    print('connected')\n"
        "except Exception:\n"
        "    print('no network')\n"
    )
    result = run(wasm_sandbox, code)
    assert result.stdout == b"no network\n"


def test_exit_status_is_reported(wasm_sandbox):
    result = run(wasm_sandbox, "import sys\nsys.exit(3)\n")
    assert result.outcome is Outcome.EXIT
    assert result.exit_code == 3


def test_host_environment_is_not_visible(wasm_sandbox, monkeypatch):
    monkeypatch.setenv("EVOLVER_TEST_SECRET", "hidden")
    result = run(wasm_sandbox, "import os\nprint(os.environ.get('EVOLVER_TEST_SECRET'))")
    assert result.stdout == b"None\n"


def test_scratch_folder_is_removed(wasm_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    run(wasm_sandbox, "open('/out/x', 'w').write('y')")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["clock", "random"])
def test_guest_is_deterministic(wasm_sandbox, name):
    code = {
        "clock": "import time\nprint(time.time())",
        "random": "import os\nprint(os.urandom(8).hex())",
    }[name]
    assert run(wasm_sandbox, code).stdout == run(wasm_sandbox, code).stdout


def test_recursion_bomb_ends(wasm_sandbox):
    code = "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)\n"
    result = run(wasm_sandbox, code)
    assert result.outcome in (Outcome.TRAP, Outcome.EXIT, Outcome.FUEL)
    assert result.outcome is not Outcome.OK



#: A script that prints how it was started.
STARTED_AS = (
    "import sys, helper\n"
    "print(__name__, __file__, sys.argv, sys.path[0], helper.VALUE)\n"
)


def cached_job(script: str, helper: str, *arguments: str) -> Job:
    files = {"main.py": script.encode(), "helper.py": helper.encode()}
    return Job(
        files=files,
        argv=("main.py", *arguments),
        limits=LIMITS,
        cached=("main.py", "helper.py"),
    )


def test_cached_files_start_the_same_and_cost_less(wasm_sandbox):
    job = cached_job(STARTED_AS, "VALUE = 1\n", "--flag")
    plain = wasm_sandbox.run(dataclasses.replace(job, cached=()))
    cached = wasm_sandbox.run(job)
    assert plain.outcome is cached.outcome is Outcome.OK
    assert cached.stdout == plain.stdout
    assert cached.stdout == b"__main__ /job/main.py ['/job/main.py', '--flag'] /job 1\n"

    harness = build_job("def f():\n    return 1\n", "target", TRIVIAL_SUITE, SETTINGS)
    from_source = wasm_sandbox.run(dataclasses.replace(harness, cached=()))
    from_bytecode = wasm_sandbox.run(harness)
    assert score(from_bytecode, TRIVIAL_SUITE, 0, harness.report_key).passed
    # Once the guard's bytecode is cached, the importer reads it for both jobs. The
    # harness script is compiled only without `cached`: about 60 million instructions
    # more than loading its bytecode.
    assert from_source.usage - from_bytecode.usage > 40_000_000


def test_changed_sources_run_as_changed(wasm_sandbox):
    first = wasm_sandbox.run(cached_job("import helper\nprint(helper.VALUE)\n", "VALUE = 1\n"))
    helper = wasm_sandbox.run(cached_job("import helper\nprint(helper.VALUE)\n", "VALUE = 2\n"))
    script = wasm_sandbox.run(cached_job("import helper\nprint(-helper.VALUE)\n", "VALUE = 2\n"))
    assert (first.stdout, helper.stdout, script.stdout) == (b"1\n", b"2\n", b"-2\n")


def test_uncompilable_cached_file_reports_error(wasm_sandbox):
    job = cached_job("import helper\n", "VALUE = (\n")
    results = [wasm_sandbox.run(job) for _ in range(2)]
    assert all(result.outcome is Outcome.EXIT for result in results)
    assert all(b"SyntaxError" in result.stderr for result in results)
    assert ("helper.py", b"VALUE = (\n") in wasm_sandbox._uncompilable
