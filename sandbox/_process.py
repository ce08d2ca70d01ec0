"""The process backend: the host's own Python in a subprocess with resource limits.

This is not a security boundary. The guest runs as the host's user, can read every
file that user can read, write files outside its out folder, open network
connections and signal the user's other processes. Use it for trusted code only,
where starting a container or a WebAssembly interpreter costs too much. It bounds
wall-clock time (the supervisor's deadline, and a kill by the host on top of it).
Resource limits bound CPU time, address space, file size and open files. Captured
output is capped, and every process the guest leaves behind is killed when it ends
(see `_supervisor.py`).

The guest is `sys.executable -s -S -P -B` with a clean environment. `-I` would also
ignore the environment, but the harness needs `PYTHONPATH` (the guest packages),
`PYTHONHASHSEED` and `PYTHONPYCACHEPREFIX` from it, so the backend builds the whole
environment itself instead. Cost is wall-clock seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ._base import BaseSandbox, explain_exit, folder_size, read_capped
from ._runtime import WARM_UP, guest_packages_path, native_bytecode_path
from ._types import Job, Limits, Outcome, Result, SandboxError

#: Flags of every guest interpreter: no user or system site-packages, no script
#: folder on the path, no bytecode written.
PYTHON_FLAGS = ("-s", "-S", "-P", "-B")
#: Open files a guest may hold: the interpreter, hypothesis and the harness need
#: about 20.
OPEN_FILES = 256
#: Time the host waits past the deadline for the supervisor before it kills it.
KILL_GRACE_SECONDS = 5.0
#: How often the watchdog looks at the out folder.
WATCHDOG_PERIOD = 0.05

_SUPERVISOR = Path(__file__).with_name("_supervisor.py")


class ProcessSandbox(BaseSandbox):
    """Run jobs as subprocesses of the host's Python (trusted code only)."""

    name = "process"
    meter = "seconds"
    security_boundary = False

    def __init__(self, python: str | None = None) -> None:
        self._python = python or sys.executable
        if not self._python or not os.access(self._python, os.X_OK):
            raise SandboxError(
                f"The process sandbox needs a Python interpreter, and {self._python!r} "
                "is not executable."
            )
        self._packages = guest_packages_path()
        tag = sys.implementation.cache_tag or "python"
        self._bytecode = native_bytecode_path(f"process-{tag}", self._compile_into)

    def _run_impl(self, job: Job, job_dir: Path, out_dir: Path) -> Result:
        limits = job.limits
        home = job_dir.parent / "home"
        home.mkdir()
        script, *arguments = job.argv
        spec = {
            "argv": [self._python, *PYTHON_FLAGS, str(job_dir / script), *arguments],
            "env": self._environment(job, job_dir, out_dir, home),
            "cwd": str(home),
            "limits": _limit_values(limits),
            "parent": os.getpid(),
        }
        run = _Run(limits, out_dir)
        started = time.perf_counter()
        status = run.start(spec, job.report_key)
        wall = time.perf_counter() - started

        report, report_cut = read_capped(out_dir / "report.jsonl", limits.output_bytes)
        if report_cut:
            run.stop(Outcome.OUTPUT, "the report file exceeded the output cap")
        outcome, detail = _classify(run, status, limits)
        exit_code = None
        if status is not None and status["status"] is not None:
            if os.WIFEXITED(status["status"]):
                exit_code = os.WEXITSTATUS(status["status"])
            if status["left"]:
                count = status["left"]
                noun = "process" if count == 1 else "processes"
                left = f"killed {count} {noun} that the guest left behind"
                detail = f"{detail}; {left}" if detail else left
        return Result(
            outcome=outcome,
            exit_code=exit_code,
            stdout=bytes(run.stdout),
            stderr=bytes(run.stderr),
            report=report,
            meter=self.meter,
            usage=wall,
            marks=(),
            wall_seconds=wall,
            detail=detail,
            key_requests=1 if run.key_sent else 0,
        )

    def _environment(self, job: Job, job_dir: Path, out_dir: Path, home: Path) -> dict:
        return {
            "PATH": os.defpath,
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "EVOLVER_JOB": str(job_dir),
            "EVOLVER_OUT": str(out_dir),
            "EVOLVER_METER": self.meter,
            "EVOLVER_KEY_SOURCE": "stdin",
            "PYTHONPATH": str(self._packages),
            "PYTHONPYCACHEPREFIX": str(self._bytecode),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "HYPOTHESIS_STORAGE_DIRECTORY": str(home / ".hypothesis"),
            **job.env,
        }

    def _compile_into(self, folder: Path) -> None:
        environment = {
            "PATH": os.defpath,
            "PYTHONPATH": str(self._packages),
            "PYTHONPYCACHEPREFIX": str(folder),
            "HYPOTHESIS_STORAGE_DIRECTORY": str(folder / ".hypothesis"),
        }
        completed = subprocess.run(
            [self._python, "-s", "-S", "-P", "-c", WARM_UP],
            env=environment,
            cwd=folder,
            capture_output=True,
            timeout=300,
            check=False,
        )
        if completed.returncode != 0:
            raise SandboxError(
                f"{self._python} could not import hypothesis from {self._packages} "
                f"while compiling its bytecode cache (exit {completed.returncode}): "
                f"{completed.stderr[-2000:].decode(errors='replace')}"
            )


def _limit_values(limits: Limits) -> dict:
    return {
        "wall_seconds": limits.wall_seconds,
        "memory_bytes": limits.memory_bytes,
        "output_bytes": limits.output_bytes,
        "processes": limits.processes,
        "open_files": OPEN_FILES,
    }


class _Run:
    """One supervised guest: its pipes, output caps and the reason it was stopped."""

    def __init__(self, limits: Limits, out_dir: Path) -> None:
        self.limits = limits
        self.out_dir = out_dir
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.reason: Outcome | None = None
        self.reason_detail = ""
        self.key_sent = False
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._signalled = False

    def start(self, spec: dict, key: bytes) -> dict | None:
        """Run the supervisor to its end; return its status line, or None."""
        status_read, status_write = os.pipe()
        spec = {**spec, "status_fd": status_write}
        try:
            self._process = subprocess.Popen(
                [sys.executable, *PYTHON_FLAGS, str(_SUPERVISOR), json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_write,),
                start_new_session=True,
                env={"PATH": os.defpath},
            )
        finally:
            os.close(status_write)
        with open(status_read, "rb") as status_pipe:
            try:
                return self._supervise(key, status_pipe)
            finally:
                self._end()

    def _supervise(self, key: bytes, status_pipe) -> dict | None:
        process = self._process
        assert process is not None
        streams = [
            (process.stdout, self.stdout, "stdout"),
            (process.stderr, self.stderr, "stderr"),
        ]
        pumps = [
            threading.Thread(target=self._pump, args=stream, daemon=True)
            for stream in streams
        ]
        for pump in pumps:
            pump.start()
        self._send_key(key)
        watchdog = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(watchdog,), daemon=True)
        watcher.start()
        try:
            process.wait(timeout=self.limits.wall_seconds + KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.stop(Outcome.TIMEOUT, "the guest outlived the deadline and was killed")
            self._kill()
        finally:
            watchdog.set()
            watcher.join()
        # The guest's end closes the pipes, unless it outlived a supervisor that died.
        _kill_session(process.pid)
        for pump in pumps:
            pump.join(timeout=KILL_GRACE_SECONDS)
        line = status_pipe.readline()
        return json.loads(line) if line else None

    def _send_key(self, key: bytes) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            process.stdin.write(key)
            process.stdin.close()
        except (BrokenPipeError, OSError):
            return
        self.key_sent = True

    def _pump(self, stream, buffer: bytearray, name: str) -> None:
        cap = self.limits.output_bytes
        # Reading goes on after the cap, so that the guest never blocks on a full
        # pipe while the supervisor is asked to stop it.
        for chunk in iter(lambda: stream.read1(65536), b""):
            room = cap - len(buffer)
            if room > 0:
                buffer.extend(chunk[:room])
            if len(chunk) > room:
                self.stop(Outcome.OUTPUT, f"{name} exceeded {cap} bytes")
        stream.close()

    def _watch(self, done: threading.Event) -> None:
        while not done.wait(WATCHDOG_PERIOD):
            if folder_size(self.out_dir) > self.limits.output_bytes:
                self.stop(Outcome.OUTPUT, "the out folder exceeded the output cap")
                return

    def stop(self, reason: Outcome, detail: str) -> None:
        """Record why the guest is stopped (the first reason wins) and stop it."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
                self.reason_detail = detail
            if self._signalled:
                return
            self._signalled = True
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _kill(self) -> None:
        process = self._process
        assert process is not None
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.kill()
        process.wait()
        _kill_session(process.pid)

    def _end(self) -> None:
        """Leave no supervisor behind, also when the host is interrupted.

        Should the supervisor have died before its cleanup, the processes of its
        session (the guest, unless it left the session) are killed here instead.
        """
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._kill()
        _kill_session(process.pid)


def _kill_session(session: int) -> None:
    """Kill every process of the session `session` (Linux; elsewhere nothing)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, session.
        if len(fields) > 3 and int(fields[3]) == session:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


#: Signals that mean the guest crashed rather than ran out of something.
_CRASH_SIGNALS = {
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGILL,
    signal.SIGFPE,
    signal.SIGABRT,
}


def _classify(run: _Run, status: dict | None, limits: Limits) -> tuple[Outcome, str]:
    if run.reason is not None:
        return run.reason, run.reason_detail
    if status is None or status["status"] is None:
        return Outcome.ERROR, "the supervisor ended without reporting the guest's status"
    if status["reason"] == "timeout":
        return Outcome.TIMEOUT, "the wall-clock deadline passed"
    wait_status = status["status"]
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        if number == signal.SIGXCPU or (
            number == signal.SIGKILL and status["cpu_seconds"] >= limits.wall_seconds
        ):
            return Outcome.TIMEOUT, "the guest used up its CPU time"
        if number == signal.SIGXFSZ:
            return Outcome.OUTPUT, f"the guest wrote a file larger than {limits.output_bytes} bytes"
        if number in _CRASH_SIGNALS:
            return Outcome.TRAP, f"the guest crashed with {name}"
        return Outcome.EXIT, f"the guest was killed by {name}"
    code = os.WEXITSTATUS(wait_status)
    if code == 0:
        return Outcome.OK, ""
    return explain_exit(run.stderr, limits) or (
        Outcome.EXIT,
        f"the guest exited with status {code}",
    )
