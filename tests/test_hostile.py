"""Hostile candidates end within their limits on every backend and leave the host alone.

Two tables. `CANDIDATES` are target modules run through the harness and scored, so
the guard's audit hook is the first line of defence: each must end with the right
outcome, count every test as failed and get no cost. `PROGRAMS` are plain programs
run straight in the sandbox, without the harness and its guard, so they meet the
backend's own bounds: the wasm runtime, the container, or the resource limits and
the supervisor of the process backend. Every case checks that the host's files, its
environment and its process table are as they were.

The process backend is not a security boundary: there a plain program can read the
user's files and reach the loopback network, and the tests assert exactly that.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import socket
import sqlite3
import string
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fitness import EvaluationSettings, evaluate, warm_sandbox
from sandbox import Job, Limits, Outcome, SandboxError, WarmWasmSandbox, create_sandbox

from .test_fitness import GOOD, HOSTILE, SUITE

LIMITS = Limits(wall_seconds=5, memory_bytes=128 * 1024 * 1024, fuel=20_000_000_000)
SETTINGS = EvaluationSettings(max_examples=10, limits=LIMITS, bench_repeats=3)
#: Time a run may take beyond its wall-clock limit: start-up, scoring, the kill.
SLACK_SECONDS = 10

BACKENDS = [
    pytest.param("wasm", id="wasm"),
    pytest.param("warm", id="warm"),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
    pytest.param("process", id="process"),
]
NATIVE = [param for param in BACKENDS if param.id not in ("wasm", "warm")]
#: The warm wasm mode forks a guest that has started the harness, so only jobs of the
#: harness use it; plain programs would run in fresh guests, as under "wasm".
PROGRAM_BACKENDS = [param for param in BACKENDS if param.id != "warm"]

ENDED = {Outcome.OK, Outcome.EXIT}
STOPPED = {Outcome.TIMEOUT, Outcome.FUEL}

#: Target modules for the suite `SUITE` (`square(n) == n * n`), each wrong or hostile,
#: with the outcomes that count as right. $-names are filled in per test.
CANDIDATES = {
    "infinite_loop": ("def square(n):\n    while True:\n        pass\n", STOPPED),
    "memory_growth": (
        "def square(n):\n    chunks = []\n    while True:\n        chunks.append(b'x' * 10**6)\n",
        ENDED | {Outcome.MEMORY},
    ),
    "recursion": (
        "import sys\nsys.setrecursionlimit(10**7)\ndef square(n):\n    return square(n + 1)\n",
        ENDED | {Outcome.MEMORY, Outcome.TRAP, Outcome.TIMEOUT, Outcome.FUEL},
    ),
    "fork_bomb": (
        "import os\ndef square(n):\n    while True:\n        os.fork()\n",
        ENDED,
    ),
    "thread_bomb": (
        "import threading, time\n"
        "def square(n):\n"
        "    while True:\n"
        "        threading.Thread(target=time.sleep, args=(60,)).start()\n",
        ENDED | {Outcome.TAMPERED, Outcome.TIMEOUT, Outcome.MEMORY},
    ),
    "print_gigabytes": (
        "import sys\ndef square(n):\n    while True:\n        sys.stdout.write('x' * 65536)\n",
        {Outcome.OUTPUT},
    ),
    "host_files": (
        "import os\n"
        "PATHS = ['/etc/passwd', $canary, $suite, $archive, $home]\n"
        "def square(n):\n"
        "    for path in PATHS:\n"
        "        for mode in ('a', 'w'):\n"
        "            try:\n"
        "                open(path, mode).write('changed')\n"
        "            except OSError:\n"
        "                pass\n"
        "        try:\n"
        "            os.remove(path)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 0\n",
        ENDED,
    ),
    "network": (
        "import socket\n"
        "def square(n):\n"
        "    socket.create_connection(('127.0.0.1', $port), timeout=1).sendall(b'x')\n"
        "    return n * n\n",
        ENDED,
    ),
    "os_exit_on_import": ("import os\nos._exit(0)\n", ENDED),
    "sys_exit_in_test": ("import sys\ndef square(n):\n    sys.exit(0)\n", ENDED),
    "base_exception": (
        "class Escape(BaseException):\n    pass\ndef square(n):\n    raise Escape()\n",
        ENDED,
    ),
    "keyboard_interrupt": ("def square(n):\n    raise KeyboardInterrupt\n", ENDED),
    "replace_test_functions": (
        "import sys\n"
        "def square(n):\n"
        "    suite = sys.modules['test_target']\n"
        "    suite.test_square = suite.test_known = lambda: None\n"
        "    return 0\n",
        ENDED | {Outcome.TAMPERED},
    ),
    "fake_stdout_report": (
        "print('{\"event\": \"start\", \"seq\": 0}\\t' + '0' * 64)\n"
        "print('{\"event\": \"test\", \"seq\": 1, \"name\": \"test_square\", \"passed\": true}')\n"
        "print('{\"event\": \"done\"}')\n"
        "def square(n):\n    return 0\n",
        ENDED,
    ),
    "sleep_past_deadline": ("import time\ndef square(n):\n    time.sleep(1000)\n", STOPPED),
    "child_outlives": (
        "import subprocess, sys\n"
        "def square(n):\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', $token],\n"
        "                     start_new_session=True)\n"
        "    return 0\n",
        ENDED,
    ),
    "ctypes_memory": (
        "import ctypes\n"
        "def square(n):\n"
        "    ctypes.string_at(id(n), 8)\n"
        "    return n * n\n",
        ENDED,
    ),
    "read_own_memory": (
        "def square(n):\n"
        "    with open('/proc/self/mem', 'rb') as handle:\n"
        "        handle.read(1)\n"
        "    return n * n\n",
        ENDED,
    ),
    "signal_handler_between_checks": (
        "import signal, sys\n"
        "def square(n):\n    return 0\n"
        "def handler(number, frame):\n"
        "    pass\n"
        "if hasattr(signal, 'setitimer'):\n"
        "    signal.signal(signal.SIGALRM, handler)\n",
        ENDED | {Outcome.TAMPERED},
    ),
    "gc_callback_between_checks": (
        "import gc, sys\n"
        "def square(n):\n    return 0\n"
        "def callback(phase, info):\n"
        "    pass\n"
        "gc.callbacks.append(callback)\n",
        {Outcome.TAMPERED},
    ),
    "thread_between_checks": (
        "import threading, time\n"
        "def square(n):\n    return 0\n"
        "threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n",
        ENDED | {Outcome.TAMPERED},
    ),
}

#: Plain programs that attack the backend itself, with the outcomes that count as
#: right and the backends where the attack makes no sense.
PROGRAMS = {
    "infinite_loop": ("while True:\n    pass\n", STOPPED),
    "memory_growth": (
        "chunks = []\nwhile True:\n    chunks.append(b'x' * 10**6)\n",
        {Outcome.MEMORY},
    ),
    "recursion": (
        "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
        {Outcome.MEMORY, Outcome.TRAP, Outcome.EXIT, Outcome.FUEL, Outcome.TIMEOUT},
    ),
    "thread_bomb": (
        "import threading, time\n"
        "while True:\n"
        "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
        {Outcome.EXIT, Outcome.MEMORY, Outcome.TIMEOUT},
    ),
    "fork_bomb": (
        "import os\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n",
        {Outcome.EXIT, Outcome.TIMEOUT, Outcome.MEMORY},
    ),
    "print_gigabytes": ("while True:\n    print('x' * 65536)\n", {Outcome.OUTPUT}),
    "fill_out_folder": (
        "import os\n"
        "for number in range(10**6):\n"
        "    with open(os.environ['EVOLVER_OUT'] + f'/{number}', 'wb') as handle:\n"
        "        handle.write(b'x' * 60000)\n",
        {Outcome.OUTPUT},
    ),
    "sleep_past_deadline": ("import time\ntime.sleep(1000)\n", STOPPED),
    "child_outlives": (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', $token],\n"
        "                 start_new_session=True)\n",
        {Outcome.OK, Outcome.EXIT},
    ),
    "os_exit": ("import os\nos._exit(7)\n", {Outcome.EXIT}),
}


#: Cases that take their whole wall-clock limit on a native backend and repeat a bound
#: that a faster case already checks there.
SLOW_CANDIDATES = {"recursion", "thread_bomb"}
SLOW_PROGRAMS = {"infinite_loop", "recursion", "sleep_past_deadline"}


def cases(table: dict, slow: set) -> list:
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in slow else name
        for name in sorted(table)
    ]


@dataclass(frozen=True)
class Host:
    """Files, environment and a process token whose state must survive a run."""

    home: Path
    canary: Path
    suite: Path
    archive: Path
    token: str
    environ: dict
    archive_digest: str

    def substitutions(self, port: int) -> dict:
        return {
            "canary": repr(str(self.canary)),
            "suite": repr(str(self.suite)),
            "archive": repr(str(self.archive)),
            "home": repr(str(self.home)),
            "token": repr(self.token),
            "port": str(port),
        }


def make_host(root: Path) -> Host:
    home = root / "home"
    home.mkdir()
    canary = home / "canary.txt"
    canary.write_text("canary")
    project = root / "project"
    (project / ".evolver").mkdir(parents=True)
    suite = project / "test_target.py"
    suite.write_text(SUITE.source)
    archive = project / ".evolver" / "archive.sqlite"
    with sqlite3.connect(archive) as connection:
        connection.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, status TEXT)")
        connection.execute("INSERT INTO runs (status) VALUES ('finished')")
    connection.close()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    token = f"evolver-hostile-{secrets.token_hex(6)}"
    return Host(home, canary, suite, archive, token, dict(os.environ), digest)


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


def assert_unchanged(host: Host, sandbox) -> None:
    assert host.canary.read_text() == "canary"
    assert sorted(host.home.iterdir()) == [host.canary]
    assert host.suite.read_text() == SUITE.source
    assert hashlib.sha256(host.archive.read_bytes()).hexdigest() == host.archive_digest
    with sqlite3.connect(host.archive) as connection:
        rows = connection.execute("SELECT id, status FROM runs").fetchall()
    connection.close()
    assert rows == [(1, "finished")]
    assert dict(os.environ) == host.environ
    # A killed process can take a moment to leave the process table.
    deadline = time.monotonic() + 3
    while processes_with(host.token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(host.token) == []
    if sandbox.name == "docker":
        filters = {"label": f"evolver.owner={sandbox._owner}"}
        assert sandbox._client.containers.list(all=True, filters=filters) == []


@pytest.fixture(scope="module")
def native_sandboxes():
    created: dict = {}
    yield created
    for sandbox in created.values():
        if not isinstance(sandbox, str):
            sandbox.close()


@pytest.fixture(params=BACKENDS)
def sandbox(request, native_sandboxes):
    return _sandbox(request, native_sandboxes)


@pytest.fixture(params=NATIVE)
def native_sandbox(request, native_sandboxes):
    return _sandbox(request, native_sandboxes)


def _sandbox(request, created: dict):
    name = request.param
    if name == "wasm":
        return request.getfixturevalue("wasm_sandbox")
    if name not in created:
        try:
            if name == "warm":
                created[name] = warm_sandbox(LIMITS.memory_bytes)
            else:
                created[name] = create_sandbox(name)
        except SandboxError as error:
            # Remember the reason, so that the other cases skip at once.
            created[name] = str(error)
    if isinstance(created[name], str):
        pytest.skip(f"the {name} sandbox cannot start here: {created[name]}")
    return created[name]


@pytest.fixture
def listener():
    """A loopback server that no candidate should reach."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        yield server


def received_connection(server) -> bool:
    try:
        connection, _ = server.accept()
    except socket.timeout:
        return False
    connection.close()
    return True


def assert_outcome(outcome: Outcome, expected: set, wall_seconds: float, detail: str) -> None:
    """Check the outcome; a run on a machine too busy to finish in time may time out."""
    if outcome is Outcome.TIMEOUT and wall_seconds >= 0.95 * LIMITS.wall_seconds:
        return
    assert outcome in expected, detail


def test_honest_candidate_passes(sandbox):
    evaluation = evaluate(sandbox, GOOD, "target", SUITE, SETTINGS)
    assert evaluation.outcome == "ok"
    assert evaluation.fitness.failures == 0
    assert math.isfinite(evaluation.fitness.cost)
    assert evaluation.backend == sandbox.name
    assert evaluation.meter == ("fuel" if sandbox.name == "wasm" else "seconds")


@pytest.mark.parametrize("case", cases(CANDIDATES, SLOW_CANDIDATES))
def test_hostile_candidate(sandbox, case, tmp_path, listener):
    host = make_host(tmp_path)
    template, outcomes = CANDIDATES[case]
    port = listener.getsockname()[1]
    source = string.Template(template).substitute(host.substitutions(port))

    forks = getattr(sandbox, "forks", 0)
    started = time.monotonic()
    evaluation = evaluate(sandbox, source, "target", SUITE, SETTINGS)
    elapsed = time.monotonic() - started

    assert getattr(sandbox, "forks", 0) == forks + isinstance(sandbox, WarmWasmSandbox)
    assert_outcome(Outcome(evaluation.outcome), outcomes, evaluation.wall_seconds, evaluation.detail)
    assert evaluation.fitness.failures == len(SUITE.tests)
    assert math.isinf(evaluation.fitness.cost)
    assert elapsed < LIMITS.wall_seconds + SLACK_SECONDS
    assert not received_connection(listener)
    assert_unchanged(host, sandbox)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_wasm_forgeries_on_native(native_sandbox, case, tmp_path):
    # The wasm backend runs this table in test_fitness.py.
    host = make_host(tmp_path)
    evaluation = evaluate(native_sandbox, HOSTILE[case], "target", SUITE, SETTINGS)
    assert evaluation.fitness.failures == len(SUITE.tests)
    assert math.isinf(evaluation.fitness.cost)
    assert_unchanged(host, native_sandbox)


@pytest.mark.parametrize("sandbox", PROGRAM_BACKENDS, indirect=True)
@pytest.mark.parametrize("case", cases(PROGRAMS, SLOW_PROGRAMS))
def test_hostile_program(sandbox, case, tmp_path):
    if case == "fork_bomb" and sandbox.name == "process" and os.geteuid() == 0:
        pytest.skip("RLIMIT_NPROC does not bind root, so a fork bomb would reach the host")
    host = make_host(tmp_path)
    template, outcomes = PROGRAMS[case]
    code = string.Template(template).substitute(host.substitutions(0))
    job = Job(files={"main.py": code.encode()}, argv=("main.py",), limits=LIMITS)

    started = time.monotonic()
    result = sandbox.run(job)
    elapsed = time.monotonic() - started

    assert_outcome(result.outcome, outcomes, result.wall_seconds, result.detail)
    assert elapsed < LIMITS.wall_seconds + SLACK_SECONDS
    assert len(result.stdout) <= LIMITS.output_bytes
    assert len(result.stderr) <= LIMITS.output_bytes
    assert_unchanged(host, sandbox)


#: A program that reads and writes the host's files and prints what it could do.
REACH = """
import os
for path in [$canary, $suite, $archive]:
    try:
        open(path, 'rb').read()
        print('read')
    except OSError:
        print('no read')
for path in [$canary, $suite, $archive]:
    try:
        open(path, 'ab')
        print('write')
    except OSError:
        print('no write')
"""


@pytest.mark.parametrize(
    "sandbox", [p for p in PROGRAM_BACKENDS if p.id != "process"], indirect=True
)
def test_host_files_out_of_reach(sandbox, tmp_path):
    host = make_host(tmp_path)
    code = string.Template(REACH).substitute(host.substitutions(0))
    result = sandbox.run(Job(files={"main.py": code.encode()}, argv=("main.py",), limits=LIMITS))
    assert result.stdout.decode().split("\n")[:6] == ["no read"] * 3 + ["no write"] * 3
    assert_unchanged(host, sandbox)


def test_process_reaches_host_files(tmp_path):
    # Not a boundary: a plain program under the process backend reads the user's
    # files. Only the harness's guard stops a candidate from writing them.
    sandbox = create_sandbox("process")
    host = make_host(tmp_path)
    code = f"print(open({str(host.canary)!r}).read())\n"
    result = sandbox.run(Job(files={"main.py": code.encode()}, argv=("main.py",), limits=LIMITS))
    assert result.stdout == b"canary\n"


NETWORK = """
import socket
try:
    socket.create_connection(('127.0.0.1', $port), timeout=1).sendall(b'x')
    print('connected')
except Exception:  # OSError, or AttributeError where the socket module has no network
    print('no network')
"""


@pytest.mark.parametrize("sandbox", PROGRAM_BACKENDS, indirect=True)
def test_loopback_listener(sandbox, listener):
    code = string.Template(NETWORK).substitute(port=listener.getsockname()[1])
    result = sandbox.run(Job(files={"main.py": code.encode()}, argv=("main.py",), limits=LIMITS))
    if sandbox.name == "process":
        # Not a boundary: the host's loopback is in reach.
        assert result.stdout == b"connected\n"
        assert received_connection(listener)
    else:
        assert result.stdout == b"no network\n"
        assert not received_connection(listener)


@pytest.mark.parametrize("name", [param.id for param in BACKENDS])
def test_executor_kills_stuck_worker(name, tmp_path, monkeypatch, native_sandboxes):
    # The executor's own deadline is the last line of defence, for a sandbox that
    # does not return (a guest blocked in a host call, a hung engine): here it comes
    # long before the sandbox's, so the executor must kill the worker mid-run.
    from evolver import _executor
    from evolver._executor import LocalExecutor, Task

    if name == "docker":
        pytest.importorskip("docker")
        if isinstance(native_sandboxes.get("docker"), str):
            pytest.skip(f"the docker sandbox cannot start here: {native_sandboxes['docker']}")
    limits = Limits(wall_seconds=60, memory_bytes=128 * 1024 * 1024, fuel=10**13)
    # Workers inherit TMPDIR, so every file and process of theirs names tmp_path.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    settings = EvaluationSettings(max_examples=10, limits=limits)
    source = "def square(n):\n    while True:\n        pass\n"
    task = Task(source, "target", SUITE, settings, 0)

    warm_memory = limits.memory_bytes if name == "warm" else None
    backend = "wasm" if name == "warm" else name
    with LocalExecutor(backend, 1, warm_memory=warm_memory) as executor:
        # Let the worker start its sandbox before the clock starts.
        (honest,) = executor.evaluate_many([Task(GOOD, "target", SUITE, SETTINGS, 0)])
        monkeypatch.setattr(_executor, "GRACE_SECONDS", 3 - limits.wall_seconds)
        worker_pid = executor._workers[0].process.pid
        started = time.monotonic()
        (evaluation,) = executor.evaluate_many([task])
        elapsed = time.monotonic() - started
        replaced = executor.replaced

    assert honest.outcome == "ok"
    assert evaluation.outcome == "timeout"
    assert evaluation.detail == "the worker timeout"
    assert evaluation.fitness.failures == len(SUITE.tests)
    assert replaced == 1
    assert elapsed < 3 + SLACK_SECONDS
    deadline = time.monotonic() + 10
    while processes_with(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(str(tmp_path)) == []
    if name == "docker":
        import docker

        client = docker.from_env()
        left = client.containers.list(
            all=True, filters={"label": "evolver.owner"}
        )
        owners = [c.labels["evolver.owner"].split(":")[0] for c in left]
        client.close()
        assert str(worker_pid) not in owners
