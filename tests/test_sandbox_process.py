"""The process backend bounds time, memory, output and processes, and warns it is unsafe."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import Job, Limits, Outcome, boundary_warning, create_sandbox

LIMITS = Limits(wall_seconds=5, memory_bytes=128 * 1024 * 1024)


@pytest.fixture(scope="module")
def process_sandbox():
    sandbox = create_sandbox("process")
    yield sandbox
    sandbox.close()


def run(sandbox, code: str, limits: Limits = LIMITS, key: bytes = b""):
    job = Job(files={"main.py": code.encode()}, argv=("main.py",), limits=limits, report_key=key)
    return sandbox.run(job)


def processes_with(token: str) -> list[int]:
    """Return the pids of live processes whose command line contains `token`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if token.encode() in command and state != b"Z":
            found.append(int(entry))
    return found


def test_plain_program_is_ok(process_sandbox):
    result = run(process_sandbox, "print('hello')")
    assert result.outcome is Outcome.OK
    assert result.exit_code == 0
    assert result.stdout == b"hello\n"
    assert result.meter == "seconds"
    assert result.backend == "process"
    assert 0 < result.usage < LIMITS.wall_seconds


def test_key_is_read_once_from_stdin(process_sandbox):
    key = secrets.token_bytes(59)
    code = "import os\nprint(os.read(0, 100).hex())\nprint(os.read(0, 100).hex())\n"
    result = run(process_sandbox, code, key=key)
    assert result.stdout.split() == [key.hex().encode()]
    assert result.key_requests == 1


def test_guest_sees_only_guest_packages(process_sandbox):
    code = "import sys\nprint(sys.flags.no_site, sys.flags.hash_randomization)\nimport deap\n"
    result = run(process_sandbox, code)
    assert result.stdout == b"1 0\n"
    assert b"No module named 'deap'" in result.stderr
    assert result.outcome is Outcome.EXIT


def test_infinite_loop_times_out(process_sandbox):
    started = time.monotonic()
    result = run(process_sandbox, "while True:\n    pass\n", Limits(wall_seconds=1.5))
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 4


def test_sleep_past_deadline_times_out(process_sandbox):
    started = time.monotonic()
    result = run(process_sandbox, "import time\ntime.sleep(1000)\n", Limits(wall_seconds=1.5))
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 4


def test_memory_growth_is_capped(process_sandbox):
    code = "chunks = []\nwhile True:\n    chunks.append(b'x' * 10**6)\n"
    result = run(process_sandbox, code)
    assert result.outcome is Outcome.MEMORY
    assert b"MemoryError" in result.stderr


def test_huge_output_is_cut(process_sandbox):
    limits = Limits(output_bytes=10_000, wall_seconds=5)
    result = run(process_sandbox, "while True:\n    print('x' * 1000)\n", limits)
    assert result.outcome is Outcome.OUTPUT
    assert len(result.stdout) == 10_000


def test_big_file_is_cut(process_sandbox):
    limits = Limits(output_bytes=100_000, wall_seconds=5)
    code = "import os\nf = open(os.environ['EVOLVER_OUT'] + '/big', 'wb')\nwhile True:\n    f.write(b'x' * 65536)\n    f.flush()\n"
    result = run(process_sandbox, code, limits)
    assert result.outcome is Outcome.OUTPUT


def test_exit_status_is_reported(process_sandbox):
    result = run(process_sandbox, "import sys\nsys.exit(3)\n")
    assert result.outcome is Outcome.EXIT
    assert result.exit_code == 3


def test_crash_is_a_trap(process_sandbox):
    result = run(process_sandbox, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    assert result.outcome is Outcome.TRAP
    assert "SIGSEGV" in result.detail


def test_host_environment_is_not_visible(process_sandbox, monkeypatch):
    monkeypatch.setenv("EVOLVER_TEST_SECRET", "hidden")
    result = run(process_sandbox, "import os\nprint(os.environ.get('EVOLVER_TEST_SECRET'))")
    assert result.stdout == b"None\n"


def test_detached_child_is_killed(process_sandbox):
    token = f"evolver-test-{secrets.token_hex(4)}"
    code = (
        "import os, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
        f"{token!r}], start_new_session=True)\n"
    )
    result = run(process_sandbox, code)
    assert result.outcome is Outcome.OK
    assert "killed 1 process" in result.detail
    assert processes_with(token) == []


def test_double_fork_is_killed(process_sandbox):
    token = f"evolver-test-{secrets.token_hex(4)}"
    code = (
        "import os, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
        "    os._exit(0)\n"
        "os.wait()\n"
    )
    result = run(process_sandbox, code)
    assert result.outcome is Outcome.OK
    assert processes_with(token) == []


def test_limits_are_set_in_guest(process_sandbox):
    code = (
        "import resource\n"
        "for name in ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE'):\n"
        "    print(name, *resource.getrlimit(getattr(resource, name)))\n"
    )
    result = run(process_sandbox, code)
    lines = dict(line.split(" ", 1) for line in result.stdout.decode().splitlines())
    assert lines["RLIMIT_AS"] == f"{LIMITS.memory_bytes} {LIMITS.memory_bytes}"
    assert lines["RLIMIT_CPU"] == "6 6"
    assert lines["RLIMIT_FSIZE"] == f"{LIMITS.output_bytes} {LIMITS.output_bytes}"
    assert lines["RLIMIT_NOFILE"] == "256 256"
    assert lines["RLIMIT_CORE"] == "0 0"


def test_killed_host_stops_guest(tmp_path: Path):
    token = f"evolver-test-{secrets.token_hex(4)}"
    script = tmp_path / "host.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from sandbox import Job, Limits, create_sandbox\n"
        "argv = ('main.py', os.environ['GUEST_TOKEN'])\n"
        "job = Job(files={'main.py': b'import time\\ntime.sleep(60)\\n'}, argv=argv, limits=Limits(wall_seconds=60))\n"
        "create_sandbox('process').run(job)\n"
    )
    # A killed host cannot remove its scratch folder, so it goes below tmp_path.
    environment = {**os.environ, "GUEST_TOKEN": token, "TMPDIR": str(tmp_path)}
    host = subprocess.Popen([sys.executable, str(script)], env=environment)
    deadline = time.monotonic() + 30
    while not processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token), "the guest did not start"
    os.kill(host.pid, signal.SIGKILL)
    host.wait()
    deadline = time.monotonic() + 10
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token) == []


def test_scratch_folder_is_removed(process_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    code = "import os\nos.makedirs(os.environ['EVOLVER_OUT'] + '/a/b')\nos.chmod(os.environ['EVOLVER_OUT'] + '/a', 0)\n"
    run(process_sandbox, code)
    assert list(tmp_path.iterdir()) == []


def test_process_backend_warns():
    assert "not a security boundary" in boundary_warning("process")
    assert boundary_warning("wasm") is None
    assert boundary_warning("docker") is None


def test_all_matches_exports():
    import sandbox

    public = {name for name in dir(sandbox) if not name.startswith("_")}
    assert set(sandbox.__all__) == public


def test_eval_command_warns_and_names_backend(capsys):
    from evolver.cli import main

    root = Path(__file__).resolve().parent.parent / "examples" / "stats"
    code = main(
        ["eval", str(root / "stats.py"), "--suite", str(root / "test_stats.py"),
         "--sandbox", "process", "--max-examples", "5", "--json"]
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0
    assert "not a security boundary" in captured.err
    assert report["backend"] == "process"
    assert report["meter"] == "seconds"
    assert report["outcome"] == "ok"
    assert report["failures"] == 0
    assert report["cost"] > 0


def test_eval_rejects_unknown_backend(capsys):
    from evolver.cli import main

    root = Path(__file__).resolve().parent.parent / "examples" / "stats"
    code = main(
        ["eval", str(root / "stats.py"), "--suite", str(root / "test_stats.py"),
         "--sandbox", "vm"]
    )
    assert code == 2
    assert "Invalid value 'vm' for --sandbox" in capsys.readouterr().err


def test_interrupt_stops_guest(process_sandbox):
    import threading

    token = f"evolver-test-{secrets.token_hex(4)}"
    job = Job(
        files={"main.py": b"import time\ntime.sleep(60)\n"},
        argv=("main.py", token),
        limits=Limits(wall_seconds=60),
    )
    main = threading.main_thread().ident
    timer = threading.Timer(1.0, signal.pthread_kill, args=(main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            process_sandbox.run(job)
    finally:
        timer.cancel()
    assert processes_with(token) == []


def test_guest_that_kills_supervisor_is_killed(process_sandbox):
    token = f"evolver-test-{secrets.token_hex(4)}"
    code = "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(60)\n"
    job = Job(files={"main.py": code.encode()}, argv=("main.py", token), limits=LIMITS)
    started = time.monotonic()
    result = process_sandbox.run(job)
    assert time.monotonic() - started < LIMITS.wall_seconds
    assert result.outcome is Outcome.ERROR
    assert processes_with(token) == []
