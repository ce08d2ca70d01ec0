"""The server process behind the warm wasm mode: one guest, forked for every job.

`python -m sandbox._zygote FOLDER MEMORY_BYTES DESCRIPTOR` starts the interpreter once
in a wasmtime store, with the folders `FOLDER/warm` (read-only files that every job
shares), `FOLDER/job` (read-only, rewritten by the client before each job) and
`FOLDER/out` (writable, emptied before each job) preopened. The guest script imports
what every job needs and then requests `FORK_LENGTH` random bytes. That request never
returns in this process: the host function serves jobs from the connection on
`DESCRIPTOR` instead. Before each job it forks a child, which waits for the job on a
pipe of its own; once the job arrives, the child returns from the request with the
job's fuel, deadline and report key in place and runs the job to its end. Its parent
waits for it, kills it past its deadline and sends the result back.

A fork shares the guest's memory until one side writes to a page, and then the kernel
copies that page, which costs more than most of what a small job computes. Reading an
object writes to it, since CPython counts references, unless the object is immortal.
So before the first fork the server marks every object of the started guest immortal
(see `_make_immortal`). In a small evaluation that cut the pages a child copies from
about 2,000 to about 1,300, and the child's time from about 14 ms to 12 ms.

Every child starts from the same memory image, so a candidate is charged the same fuel
whether it is the first job or the hundredth, and nothing one candidate does reaches
the next: each child's memory is a copy that ends with it.

wasmtime runs file operations on a pool of helper threads that a forked child does not
have. A thread the pool counts as idle would never pick up the child's work, so the
server forks only once the pool's idle threads have timed out and gone (about 10 s after
the guest's last file operation); a child's first file operation then starts a thread of
its own.
"""

from __future__ import annotations

import array
import ctypes
import os
import pickle
import select
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import wasmtime

from ._types import Outcome
from ._warm import FORK_LENGTH, IMMORTAL_FILE, RUNTIME_THREADS
from ._wasm import FUEL_PER_NS, WasmSandbox, _classify, _RunState

#: Maximum wait for the idle file-operation threads to go.
IDLE_WAIT_SECONDS = 30.0
#: How many children a job is handed to when each dies before it takes the job.
JOB_ATTEMPTS = 3
#: The byte a child writes on its result pipe once it has read its job, so that the
#: server can tell a child that died with its job from one that died before.
TOOK_JOB = b"+"
#: Time a child may take beyond its job's wall-clock limit before it is killed.
CHILD_GRACE_SECONDS = 5.0

#: The reference count that CPython 3.12 on a 32-bit platform reads as immortal.
IMMORTAL_REFCOUNT = 0x3FFFFFFF

_PR_SET_PDEATHSIG = 1


class Zygote(WasmSandbox):
    """Start the guest once and fork it for every job the connection sends."""

    def __init__(self, folder: Path, memory_bytes: int, connection: Connection) -> None:
        super().__init__()
        self._folder = folder
        self._memory_bytes = memory_bytes
        self._connection = connection
        self._forked = False
        self._in_child = False
        self._result_fd = -1
        self._child_started = 0.0
        self._stop_watchdog = threading.Event()
        self._watchdog: threading.Thread | None = None
        # The guest's stdout and stderr are pipes that the server reads while a child
        # runs. Each read end is opened first, so that wasmtime's open of the write end
        # does not wait for a reader.
        self._streams = {name: folder / name for name in ("stdout", "stderr")}
        self._readers = {}
        for name, path in self._streams.items():
            # A server that died before this one may have left its pipes.
            path.unlink(missing_ok=True)
            os.mkfifo(path, 0o600)
            self._readers[name] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def serve(self) -> None:
        """Run the guest; return in the server once the client has gone."""
        state = _RunState(fuel_limit=10**13, deadline_ns=10**18, output_cap=1 << 20)
        self._state = state
        store = self._make_store(state, self._memory_bytes)
        store.set_epoch_deadline(10**12)
        store.set_wasi(self._zygote_wasi(state))
        try:
            exit_code, trap = self._start(store)
        except Exception as error:  # noqa: BLE001 - a child reports it as its result
            if not self._in_child:
                raise
            first_line = (str(error).splitlines() or [""])[0]
            state.stop(Outcome.ERROR, f"{type(error).__name__}: {first_line}")
            exit_code, trap = None, None
        if self._in_child:
            self._finish_child(store, state, exit_code, trap)
        if not self._forked:
            detail = bytes(state.stderr[-3000:]).decode(errors="replace")
            self._connection.send(("failed", f"exit {exit_code}, {trap}: {detail}"))

    def _zygote_wasi(self, state: _RunState) -> wasmtime.WasiConfig:
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["python", "-S", "-B", "/warm/zygote.py"]
        wasi.env = [
            ("EVOLVER_JOB", "/job"),
            ("EVOLVER_OUT", "/out"),
            ("EVOLVER_METER", self.meter),
            ("PYTHONPATH", "/lib"),
            ("PYTHONPYCACHEPREFIX", "/pyc"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("PYTHONHASHSEED", "0"),
            ("HYPOTHESIS_STORAGE_DIRECTORY", "/out/.hypothesis"),
        ]
        wasi.preopen_dir(str(self._folder / "job"), "/job", False)
        wasi.preopen_dir(str(self._packages), "/lib", False)
        wasi.preopen_dir(str(self._bytecode), "/pyc", False)
        wasi.preopen_dir(str(self._folder / "warm"), "/warm", False)
        wasi.preopen_dir(str(self._folder / "out"), "/out", True)
        wasi.stdout_file = str(self._streams["stdout"])
        wasi.stderr_file = str(self._streams["stderr"])
        return wasi

    def _random_get(self, caller, pointer: int, length: int) -> int:
        if length == FORK_LENGTH and not self._forked:
            self._forked = True
            self._serve_jobs(caller)
            # Only a child gets here, with its job set up.
            caller["memory"].write(caller, bytes(length), pointer)
            return 0
        return super()._random_get(caller, pointer, length)

    def _serve_jobs(self, caller) -> None:
        try:
            _wait_for_idle_threads()
        except wasmtime.Trap as error:
            self._connection.send(("failed", str(error)))
            raise
        _make_immortal(caller, self._folder / "out" / IMMORTAL_FILE)
        self._connection.send(("ready", None))
        while True:
            # The next job's child is forked while the client still reads the last
            # result and writes the next job, so neither the fork nor the child's
            # start is part of the job's time.
            spare = self._fork_spare(caller)
            if spare is None:
                return  # in the child, with its job set up
            _reap_exited()
            try:
                request = self._connection.recv()
            except (EOFError, OSError):
                request = None
            if request is None:
                _end_spare(spare)
                raise wasmtime.Trap("the client closed the connection")
            result = self._send_job(spare, request)
            for _ in range(JOB_ATTEMPTS - 1):
                if result is not None:
                    break
                # The child died before it took the job, which goes to a new child.
                spare = self._fork_spare(caller)
                if spare is None:
                    return
                result = self._send_job(spare, request)
            if result is None:
                result = _failure(Outcome.ERROR, "every forked guest died before its job")
                result.update(stdout=b"", stderr=b"")
            self._connection.send(("done", result))

    def _send_job(self, spare: tuple[int, int, int], request: dict) -> dict | None:
        """Hand `request` to a spare child and return its result, or None if it died first."""
        pid, request_fd, result_fd = spare
        try:
            os.write(request_fd, pickle.dumps(request))
        except OSError:
            pass  # the child died, and waiting for it finds whether it took the job
        os.close(request_fd)
        return _wait_for_child(pid, result_fd, self._readers, request)

    def _fork_spare(self, caller) -> tuple[int, int, int] | None:
        """Fork a child that waits for its job; in the child, return None once it has one.

        The parent gets the child's process id, the pipe end it writes the job to and
        the pipe end the child's result comes from.
        """
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid != 0:
            os.close(request_read)
            os.close(result_write)
            return pid, request_write, result_read
        os.close(request_write)
        os.close(result_read)
        _die_with_parent()
        self._connection.close()
        for reader in self._readers.values():
            os.close(reader)
        chunks = []
        while chunk := os.read(request_read, 1 << 16):
            chunks.append(chunk)
        os.close(request_read)
        if not chunks:
            os._exit(0)  # the server ended without a job for this child
        os.write(result_write, TOOK_JOB)
        self._begin_child(caller, pickle.loads(b"".join(chunks)), result_write)
        return None

    def _begin_child(self, caller, request: dict, result_fd: int) -> None:
        self._in_child = True
        self._result_fd = result_fd
        state = self._current()
        clock = self._now_ns(caller, state)
        # The start-up fuel counts against the job's limit, as it does in a fresh
        # guest, so that a fuel limit means the same in both modes. The usage the
        # child reports includes it too.
        started = state.fuel_limit - wasmtime.Store.get_fuel(caller)  # type: ignore[arg-type]
        remaining = max(request["fuel"] - started, 0)
        wasmtime.Store.set_fuel(caller, remaining)  # type: ignore[arg-type]
        wasmtime.Store.set_epoch_deadline(caller, 1)  # type: ignore[arg-type]
        state.fuel_limit = request["fuel"]
        state.clock_base_ns = clock - started // FUEL_PER_NS
        state.slept_ns = 0
        state.deadline_ns = clock + int(request["wall_seconds"] * 1e9)
        state.output_cap = request["output_bytes"]
        state.report_key = request["report_key"]
        state.key_requests = 0
        state.marks.clear()
        state.stdout.clear()
        state.stderr.clear()
        self._child_started = time.perf_counter()
        self._watchdog = threading.Thread(
            target=self._watch,
            args=(
                state,
                self._folder / "out",
                self._child_started + request["wall_seconds"],
                self._stop_watchdog,
            ),
            daemon=True,
        )
        self._watchdog.start()

    def _finish_child(self, store, state: _RunState, exit_code, trap) -> None:
        fuel_used = state.fuel_limit - store.get_fuel()
        self._stop_watchdog.set()
        if self._watchdog is not None:
            self._watchdog.join()
        outcome, detail = _classify(state, exit_code, trap, self._memory_bytes)
        result = {
            "outcome": outcome.value,
            "exit_code": exit_code,
            "usage": float(fuel_used),
            "marks": tuple(float(mark) for mark in state.marks),
            "wall_seconds": time.perf_counter() - self._child_started,
            "detail": detail,
            "key_requests": state.key_requests,
        }
        data = pickle.dumps(result)
        view = memoryview(data)
        while view:
            written = os.write(self._result_fd, view)
            view = view[written:]
        os.close(self._result_fd)
        os._exit(0)


def _wait_for_child(
    pid: int, read_fd: int, readers: dict[str, int], request: dict
) -> dict | None:
    """Collect a child's result and output; kill it past its deadline or output cap.

    Return None when the child died before it took the job, which is then not run.
    """
    deadline = time.monotonic() + request["wall_seconds"] + CHILD_GRACE_SECONDS
    cap = request["output_bytes"]
    output = {name: bytearray() for name in readers}
    streams = {descriptor: name for name, descriptor in readers.items()}
    chunks = []
    failure = None
    while failure is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            failure = _failure(Outcome.TIMEOUT, "the guest was killed past its deadline")
            break
        ready, _, _ = select.select([read_fd, *streams], [], [], remaining)
        if read_fd in ready:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        for descriptor in ready:
            name = streams.get(descriptor)
            if name is not None and _drain(descriptor, output[name], cap):
                failure = _failure(Outcome.OUTPUT, f"{name} exceeded {cap} bytes")
    if failure is not None:
        os.kill(pid, signal.SIGKILL)
    os.close(read_fd)
    result = None
    data = b"".join(chunks)
    if failure is None and not data.startswith(TOOK_JOB):
        os.waitpid(pid, 0)
        return None
    if failure is None:
        try:
            result = pickle.loads(data[len(TOOK_JOB) :])
        except Exception:  # noqa: BLE001 - a child that died mid-write sent no result
            result = None
    if result is not None:
        # A child that sent its whole result has written all its output and is
        # exiting. Tearing down its memory takes a few milliseconds, which the next
        # job need not wait for.
        _exiting.append(pid)
    else:
        _, status = os.waitpid(pid, 0)
        if failure is None:
            detail = f"the forked guest died ({_describe_status(status)})"
            failure = _failure(Outcome.ERROR, detail)
    for name, descriptor in readers.items():
        if _drain(descriptor, output[name], cap) and failure is None:
            failure = _failure(Outcome.OUTPUT, f"{name} exceeded {cap} bytes")
    result = failure if failure is not None else result
    result["stdout"] = bytes(output["stdout"])
    result["stderr"] = bytes(output["stderr"])
    return result


#: Children that sent their result and are still to be reaped.
_exiting: list[int] = []


def _reap_exited() -> None:
    """Reap the children that sent their result and have ended since."""
    for pid in list(_exiting):
        if os.waitpid(pid, os.WNOHANG)[0] != 0:
            _exiting.remove(pid)


def _end_spare(spare: tuple[int, int, int]) -> None:
    """Stop a spare child that will get no job, and reap every child."""
    pid, request_fd, result_fd = spare
    os.close(request_fd)
    os.close(result_fd)
    os.waitpid(pid, 0)
    while _exiting:
        os.waitpid(_exiting.pop(), 0)


def _drain(descriptor: int, buffer: bytearray, cap: int) -> bool:
    """Read what a pipe contains into `buffer`, up to `cap`, and return whether more came."""
    exceeded = False
    while True:
        try:
            chunk = os.read(descriptor, 1 << 16)
        except BlockingIOError:
            return exceeded
        if not chunk:
            return exceeded
        room = cap - len(buffer)
        buffer.extend(chunk[: max(room, 0)])
        exceeded = exceeded or len(chunk) > room


def _failure(outcome: Outcome, detail: str) -> dict:
    return {
        "outcome": outcome.value,
        "exit_code": None,
        "usage": 0.0,
        "marks": (),
        "wall_seconds": 0.0,
        "detail": detail,
        "key_requests": 0,
    }


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"status {os.waitstatus_to_exitcode(status)}"


def _wait_for_idle_threads() -> None:
    """Wait until only this thread and the runtime's worker threads are left."""
    expected = 1 + RUNTIME_THREADS
    deadline = time.monotonic() + IDLE_WAIT_SECONDS
    while len(os.listdir("/proc/self/task")) > expected:
        if time.monotonic() > deadline:
            count = len(os.listdir("/proc/self/task"))
            raise wasmtime.Trap(
                f"the server still had {count} threads after {IDLE_WAIT_SECONDS:.0f} s, "
                f"not {expected}, so it cannot fork the guest safely"
            )
        time.sleep(0.1)


def _make_immortal(caller, path: Path) -> int:
    """Mark as immortal each guest object whose address `path` lists; return how many.

    The guest writes the file (see `_GUEST_SCRIPT` in `_warm.py`) before any job's code
    runs. Its first word is the count that the guest's CPython reads as immortal. A
    guest whose count differs, or a host that is not little-endian like WebAssembly,
    leaves every object as it is.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    path.unlink()
    addresses = array.array("I")
    addresses.frombytes(data[: len(data) // 4 * 4])
    if sys.byteorder != "little" or not addresses or addresses[0] != IMMORTAL_REFCOUNT:
        return 0
    memory = caller["memory"]
    length = memory.data_len(caller)
    base = ctypes.addressof(memory.data_ptr(caller).contents)
    words = (ctypes.c_uint32 * (length // 4)).from_address(base)
    marked = 0
    for address in addresses[1:]:
        # An object starts with its reference count, on a 4-byte boundary.
        if address % 4 == 0 and address + 8 <= length:
            words[address // 4] = IMMORTAL_REFCOUNT
            marked += 1
    return marked


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent ends."""
    try:
        if not _libc:
            _libc.append(ctypes.CDLL(None, use_errno=True))
        _libc[0].prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


#: The C library, loaded once, because each child requests its parent-death signal.
_libc: list = []


def main(arguments: list[str]) -> int:
    folder, memory_bytes, descriptor = arguments
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    connection = Connection(int(descriptor))
    try:
        Zygote(Path(folder), int(memory_bytes), connection).serve()
    except Exception as error:  # noqa: BLE001 - the client reports the failure
        try:
            connection.send(("failed", f"{type(error).__name__}: {error}"))
        except OSError:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    # wasmtime's runtime threads can abort the interpreter's normal teardown.
    os._exit(0)


if __name__ == "__main__":
    os.environ.setdefault("TOKIO_WORKER_THREADS", str(RUNTIME_THREADS))
    main(sys.argv[1:])
