"""The default backend: CPython compiled to WASI, run by wasmtime.

Isolation comes from WebAssembly itself: the guest sees only the folders preopened for
it (the job read-only, the guest packages read-only, one out folder), has no sockets,
no threads and no processes, and its linear memory is capped by store limits.

Time is bounded three ways. Fuel bounds executed instructions. A watchdog thread bumps
the engine's epoch when the wall-clock deadline passes, when captured output exceeds its
cap or when the out folder grows past it, which interrupts the guest at its next loop
back-edge or call. And the guest's clocks are virtual, so a blocking sleep cannot outlast
the deadline: `clock_time_get` returns a fixed start time plus a fixed number of
nanoseconds per unit of fuel consumed plus the time slept so far, and `poll_oneoff` advances that clock instead
of sleeping, trapping when a sleep would end past the deadline. A side effect is that
the guest's view of time, and so everything hypothesis does with it, is the same on
every run and every machine.

`random_get` is served from a generator with a fixed seed for the same reason. A call
for exactly `MARK_LENGTH` bytes also records the fuel consumed so far, which is how the
in-guest harness marks the start and end of a benchmark without reading the fuel
counter itself. The first call for exactly `KEY_LENGTH` bytes returns the job's report
key, and the host counts every such call.
"""

from __future__ import annotations

import os
import random
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime

from ._base import BaseSandbox, read_capped, remove_tree, write_job_files
from ._job_bytecode import COMPILE_SCRIPT, RUN_FROM_BYTECODE, cached_sources, is_current
from ._runtime import (
    WARM_UP,
    compiled_module_path,
    guest_packages_path,
    interpreter_path,
)
from ._types import Job, Outcome, Result, SandboxError

#: Byte count of a `random_get` request that the host treats as a meter mark. It is an
#: odd size no library asks for; a guest that asks for it anyway only adds marks, which
#: the harness protocol detects as extra marks.
MARK_LENGTH = 61
#: Byte count of a `random_get` request answered with the job's report key.
KEY_LENGTH = 59
#: Unix time, in nanoseconds, that the guest's realtime clock starts at.
VIRTUAL_EPOCH_NS = 1_700_000_000 * 10**9
#: Units of fuel per virtual nanosecond. This interpreter ran about 1e10 fuel per
#: second on the 2-core x86_64 machines it was developed on, so the guest's clocks run
#: near real time there; elsewhere they run faster or slower, but identically.
FUEL_PER_NS = 10
#: Share of the memory limit in use at which a trap is taken for running out of
#: memory: a failed allocation of up to an eighth of the limit leaves at least this.
MEMORY_FULL_FRACTION = 7 / 8
#: The end of the message of wasmtime's error for an exit status outside 0 to 125.
INVALID_EXIT_MESSAGE = "exit with invalid exit status"
#: How often the watchdog looks at the clock and the out folder.
WATCHDOG_PERIOD = 0.05

_WASI = "wasi_snapshot_preview1"
_SUBSCRIPTION_SIZE = 48
_EVENT_SIZE = 32
_EVENTTYPE_CLOCK = 0
_SUBSCRIPTION_CLOCK_ABSTIME = 1


@dataclass
class _RunState:
    """Everything the host functions need to know about the run in progress."""

    fuel_limit: int
    deadline_ns: int
    output_cap: int
    report_key: bytes = b""
    key_requests: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    slept_ns: int = 0
    #: Virtual nanoseconds that passed before the fuel counter was last set; a forked
    #: guest's clock goes on from its parent's instead of starting again.
    clock_base_ns: int = 0
    marks: list[int] = field(default_factory=list)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    reason: Outcome | None = None
    reason_detail: str = ""
    #: Size of the guest's linear memory in bytes when it trapped, or 0.
    memory_at_trap: int = 0

    def stop(self, reason: Outcome, detail: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.reason_detail = detail


class WasmSandbox(BaseSandbox):
    """Run jobs in a fresh wasmtime store and instance each.

    One instance serves one job at a time: the engine's epoch is shared by every store
    of the engine, so concurrent runs need one `WasmSandbox` each.
    """

    name = "wasm"
    meter = "fuel"

    def __init__(self) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        self._engine = wasmtime.Engine(config)
        self._module = _load_module(self._engine)
        self._packages = guest_packages_path()
        self._state: _RunState | None = None
        self._lock = threading.Lock()
        self._linker = self._make_linker()
        self._bytecode = self._ensure_bytecode_cache()
        #: Cached job files, as (name, source), whose compile failed.
        self._uncompilable: set[tuple[str, bytes]] = set()

    def _run_impl(self, job: Job, job_dir: Path, out_dir: Path) -> Result:
        with self._lock:
            return self._run_locked(job, job_dir, out_dir)

    def _run_locked(self, job: Job, job_dir: Path, out_dir: Path) -> Result:
        from_bytecode = self._prepare_job_bytecode(job)
        limits = job.limits
        state = _RunState(
            fuel_limit=limits.fuel,
            deadline_ns=int(limits.wall_seconds * 1e9),
            output_cap=limits.output_bytes,
            report_key=job.report_key,
        )
        self._state = state
        store = self._make_store(state, limits.memory_bytes)
        wasi = self._make_wasi(job, job_dir, out_dir, state, from_bytecode)
        store.set_wasi(wasi)

        started = time.perf_counter()
        stop_watchdog = threading.Event()
        watchdog = threading.Thread(
            target=self._watch,
            args=(state, out_dir, started + limits.wall_seconds, stop_watchdog),
            daemon=True,
        )
        watchdog.start()
        try:
            exit_code, trap = self._start(store)
            fuel_used = limits.fuel - store.get_fuel()
        finally:
            stop_watchdog.set()
            watchdog.join()
            self._state = None
            store.close()
        wall = time.perf_counter() - started

        report, report_cut = read_capped(out_dir / "report.jsonl", limits.output_bytes)
        if report_cut:
            state.stop(Outcome.OUTPUT, "the report file exceeded the output cap")
        outcome, detail = _classify(state, exit_code, trap, limits.memory_bytes)
        return Result(
            outcome=outcome,
            exit_code=exit_code,
            stdout=bytes(state.stdout),
            stderr=bytes(state.stderr),
            report=report,
            meter=self.meter,
            usage=float(fuel_used),
            marks=tuple(float(mark) for mark in state.marks),
            wall_seconds=wall,
            detail=detail,
            key_requests=state.key_requests,
        )

    def _make_store(self, state: _RunState, memory_bytes: int) -> wasmtime.Store:
        store = wasmtime.Store(self._engine)
        store.set_fuel(state.fuel_limit)
        store.set_limits(
            memory_size=memory_bytes,
            table_elements=100_000,
            instances=1,
            tables=4,
            memories=1,
        )
        store.set_epoch_deadline(1)
        return store

    def _make_wasi(
        self,
        job: Job,
        job_dir: Path,
        out_dir: Path,
        state: _RunState,
        from_bytecode: bool = False,
    ) -> wasmtime.WasiConfig:
        script, *arguments = job.argv
        wasi = wasmtime.WasiConfig()
        start = ["-c", RUN_FROM_BYTECODE] if from_bytecode else []
        wasi.argv = ["python", "-S", "-B", *start, f"/job/{script}", *arguments]
        environment = {
            "EVOLVER_JOB": "/job",
            "EVOLVER_OUT": "/out",
            "EVOLVER_METER": self.meter,
            "PYTHONPATH": "/lib",
            "PYTHONPYCACHEPREFIX": "/pyc",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "HYPOTHESIS_STORAGE_DIRECTORY": "/out/.hypothesis",
            **job.env,
        }
        wasi.env = list(environment.items())
        wasi.preopen_dir(str(job_dir), "/job", False)
        wasi.preopen_dir(str(self._packages), "/lib", False)
        wasi.preopen_dir(str(self._bytecode), "/pyc", False)
        wasi.preopen_dir(str(out_dir), "/out", True)
        wasi.stdout_custom = self._collector(state, state.stdout, "stdout")
        wasi.stderr_custom = self._collector(state, state.stderr, "stderr")
        return wasi

    def _collector(self, state: _RunState, buffer: bytearray, stream: str):
        engine = self._engine

        def collect(data: bytes) -> int:
            room = state.output_cap - len(buffer)
            if room > 0:
                buffer.extend(data[:room])
            if len(data) > room:
                state.stop(Outcome.OUTPUT, f"{stream} exceeded {state.output_cap} bytes")
                engine.increment_epoch()
            return len(data)

        return collect

    def _start(self, store: wasmtime.Store) -> tuple[int | None, wasmtime.Trap | None]:
        instance = self._linker.instantiate(store, self._module)
        exports = instance.exports(store)
        start = exports["_start"]
        try:
            start(store)
        except wasmtime.ExitTrap as exit_trap:
            return exit_trap.code, None
        except wasmtime.WasmtimeError as error:
            # WASI exit statuses run from 0 to 125, and wasmtime fails a guest that
            # exits with another one instead of ending it with that status.
            if INVALID_EXIT_MESSAGE not in str(error) or self._state is None:
                raise
            self._state.stop(
                Outcome.EXIT, "the guest exited with a status outside 0 to 125"
            )
            return None, None
        except wasmtime.Trap as trap:
            state = self._state
            memory = exports.get("memory")
            if state is not None and isinstance(memory, wasmtime.Memory):
                state.memory_at_trap = memory.data_len(store)
            return None, trap
        return 0, None

    def _watch(
        self, state: _RunState, out_dir: Path, deadline: float, stop: threading.Event
    ) -> None:
        while not stop.wait(WATCHDOG_PERIOD):
            if time.perf_counter() > deadline:
                state.stop(Outcome.TIMEOUT, "the wall-clock deadline passed")
                self._engine.increment_epoch()
                return
            if _folder_size(out_dir) > state.output_cap:
                state.stop(Outcome.OUTPUT, "the out folder exceeded the output cap")
                self._engine.increment_epoch()
                return

    def _make_linker(self) -> wasmtime.Linker:
        linker = wasmtime.Linker(self._engine)
        linker.define_wasi()
        linker.allow_shadowing = True
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        shadows = {
            "clock_time_get": ([i32, i64, i32], self._clock_time_get),
            "poll_oneoff": ([i32, i32, i32, i32], self._poll_oneoff),
            "random_get": ([i32, i32], self._random_get),
        }
        for name, (parameters, function) in shadows.items():
            signature = wasmtime.FuncType(parameters, [i32])
            linker.define_func(_WASI, name, signature, function, access_caller=True)
        return linker

    def _now_ns(self, caller: wasmtime.Caller, state: _RunState) -> int:
        consumed = state.fuel_limit - wasmtime.Store.get_fuel(caller)  # type: ignore[arg-type]
        return state.clock_base_ns + consumed // FUEL_PER_NS + state.slept_ns

    def _clock_time_get(self, caller, clock_id: int, precision: int, pointer: int) -> int:
        state = self._current()
        elapsed = self._now_ns(caller, state)
        value = VIRTUAL_EPOCH_NS + elapsed if clock_id == 0 else elapsed
        caller["memory"].write(caller, struct.pack("<Q", value), pointer)
        return 0

    def _random_get(self, caller, pointer: int, length: int) -> int:
        state = self._current()
        if length == MARK_LENGTH:
            used = state.fuel_limit - wasmtime.Store.get_fuel(caller)  # type: ignore[arg-type]
            state.marks.append(used)
        if length == KEY_LENGTH and len(state.report_key) == KEY_LENGTH:
            state.key_requests += 1
            if state.key_requests == 1:
                caller["memory"].write(caller, state.report_key, pointer)
                return 0
        caller["memory"].write(caller, state.rng.randbytes(length), pointer)
        return 0

    def _poll_oneoff(self, caller, inputs: int, outputs: int, count: int, written: int) -> int:
        state = self._current()
        memory = caller["memory"]
        subscriptions = memory.read(caller, inputs, inputs + _SUBSCRIPTION_SIZE * count)
        now = self._now_ns(caller, state)
        wake_at = None
        events = []
        for index in range(count):
            offset = index * _SUBSCRIPTION_SIZE
            userdata, tag = struct.unpack_from("<QB", subscriptions, offset)
            if tag == _EVENTTYPE_CLOCK:
                (clock_id,) = struct.unpack_from("<I", subscriptions, offset + 16)
                timeout, _, flags = struct.unpack_from("<QQH", subscriptions, offset + 24)
                absolute = bool(flags & _SUBSCRIPTION_CLOCK_ABSTIME)
                origin = VIRTUAL_EPOCH_NS if clock_id == 0 else 0
                target = timeout - origin if absolute else now + timeout
                wake_at = target if wake_at is None else min(wake_at, target)
            # File descriptors are always files or captured streams here, so they are
            # always ready; clock events are reported as having fired.
            events.append(struct.pack("<QHBxxxxxQHxxxxxx", userdata, 0, tag, 0, 0))
        if wake_at is not None and wake_at > now:
            if wake_at > state.deadline_ns:
                state.stop(Outcome.TIMEOUT, "the guest slept past the deadline")
                raise wasmtime.Trap("sleep past the deadline")
            state.slept_ns += wake_at - now
        memory.write(caller, b"".join(events), outputs)
        memory.write(caller, struct.pack("<I", len(events)), written)
        return 0

    def _current(self) -> _RunState:
        state = self._state
        assert state is not None, "a host function ran outside of a run"
        return state

    def _ensure_bytecode_cache(self) -> Path:
        """Compile the guest packages' bytecode once, in a trusted guest run."""
        folder = self._packages.parent / f"{self._packages.name}-pyc"
        if (folder / ".complete").exists():
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        exit_code, trap, stderr = self._run_trusted(
            ["-c", WARM_UP], {"/lib": (self._packages, False), "/pyc": (folder, True)}
        )
        if exit_code != 0:
            raise SandboxError(
                "The guest could not import hypothesis while compiling its bytecode "
                f"cache in {folder} (exit {exit_code}, {trap}): {stderr}"
            )
        (folder / ".complete").write_text("ok")
        return folder

    def _prepare_job_bytecode(self, job: Job) -> bool:
        """Compile the bytecode of the job's cached files where it is missing or stale.

        Return whether the job's script has current bytecode, so that it can be
        started from it. A file that does not compile is left to the job, which
        reports the error itself, and is not tried again.
        """
        sources = cached_sources(job.files, job.cached)
        stale = {
            name: source
            for name, source in sources.items()
            if (name, source) not in self._uncompilable
            and not is_current(self._bytecode, name, source)
        }
        if stale:
            self._compile_job_files(stale)
        script = job.argv[0] if job.argv else None
        return script in sources and is_current(self._bytecode, script, sources[script])

    def _compile_job_files(self, sources: dict[str, bytes]) -> None:
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self._bytecode))
        try:
            write_job_files(Job(files=sources, argv=()), staging / "sources")
            exit_code, _, _ = self._run_trusted(
                ["-c", COMPILE_SCRIPT, *sources],
                {"/job": (staging / "sources", False), "/out": (staging / "out", True)},
            )
            compiled = sorted((staging / "out").rglob("*.pyc")) if exit_code == 0 else []
            for path in compiled:
                target = self._bytecode / path.relative_to(staging / "out")
                target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                os.chmod(path, 0o444)
                os.replace(path, target)
            if not compiled:
                self._uncompilable.update(sources.items())
        finally:
            remove_tree(staging)

    def _run_trusted(
        self, arguments: list[str], folders: dict[str, tuple[Path, bool]]
    ) -> tuple[int | None, wasmtime.Trap | None, str]:
        """Run the interpreter on trusted code with `folders` preopened by guest path.

        Return the exit code, the trap and the end of stderr.
        """
        state = _RunState(fuel_limit=10**12, deadline_ns=600 * 10**9, output_cap=1 << 20)
        self._state = state
        store = self._make_store(state, 1 << 30)
        try:
            wasi = wasmtime.WasiConfig()
            wasi.argv = ["python", "-S", *arguments]
            wasi.env = [("PYTHONPATH", "/lib"), ("PYTHONPYCACHEPREFIX", "/pyc")]
            for guest, (host, writable) in folders.items():
                host.mkdir(parents=True, exist_ok=True)
                wasi.preopen_dir(str(host), guest, writable)
            wasi.stdout_custom = self._collector(state, state.stdout, "stdout")
            wasi.stderr_custom = self._collector(state, state.stderr, "stderr")
            store.set_wasi(wasi)
            store.set_epoch_deadline(10**9)
            exit_code, trap = self._start(store)
        finally:
            self._state = None
            store.close()
        return exit_code, trap, bytes(state.stderr[-2000:]).decode(errors="replace")


def _load_module(engine: wasmtime.Engine) -> wasmtime.Module:
    interpreter, digest = interpreter_path()
    cached = compiled_module_path(digest)
    if cached.exists():
        try:
            return wasmtime.Module.deserialize_file(engine, str(cached))
        except wasmtime.WasmtimeError:
            cached.unlink(missing_ok=True)
    module = wasmtime.Module.from_file(engine, str(interpreter))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{threading.get_ident()}.partial")
    partial.write_bytes(module.serialize())
    partial.replace(cached)
    return module


def _folder_size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.lstat().st_size
        except OSError:
            continue
    return total


def _classify(
    state: _RunState,
    exit_code: int | None,
    trap: wasmtime.Trap | None,
    memory_limit: int,
) -> tuple[Outcome, str]:
    if state.reason is not None:
        return state.reason, state.reason_detail
    if trap is not None:
        code = trap.trap_code
        if code is wasmtime.TrapCode.OUT_OF_FUEL:
            return Outcome.FUEL, f"the guest used all {state.fuel_limit} fuel"
        if code is wasmtime.TrapCode.INTERRUPT:
            return Outcome.TIMEOUT, "the guest was interrupted at the deadline"
        if code is wasmtime.TrapCode.STACK_OVERFLOW:
            return Outcome.TRAP, "the guest overflowed its WebAssembly stack"
        # C code that cannot handle a failed allocation aborts, which traps, where
        # Python code would raise MemoryError. Which of the two happens depends on
        # where the memory runs out, so a trap near the cap counts as memory.
        if state.memory_at_trap >= memory_limit * MEMORY_FULL_FRACTION:
            return Outcome.MEMORY, (
                f"the guest ran out of its {memory_limit} bytes of memory and aborted"
            )
        return Outcome.TRAP, f"the guest trapped: {trap.message.splitlines()[0]}"
    if exit_code == 0:
        return Outcome.OK, ""
    if b"MemoryError" in state.stderr[-4096:]:
        return Outcome.MEMORY, f"the guest ran out of its {memory_limit} bytes of memory"
    return Outcome.EXIT, f"the guest exited with status {exit_code}"
