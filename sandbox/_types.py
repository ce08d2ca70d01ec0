"""Data that crosses the sandbox boundary: limits, jobs and results."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class SandboxError(RuntimeError):
    """A sandbox could not be set up (missing runtime, bad hash, no engine).

    A candidate's misbehaviour is never raised: it comes back as a `Result`.
    """


class Outcome(str, enum.Enum):
    """How one sandboxed run ended."""

    OK = "ok"
    EXIT = "exit"  # the guest exited with a non-zero status
    TIMEOUT = "timeout"
    FUEL = "fuel_exhausted"
    MEMORY = "memory"
    TRAP = "trap"  # the guest crashed: stack overflow, unreachable, bad memory access
    OUTPUT = "output_limit"
    TAMPERED = "tampered"  # the guest broke the harness protocol
    ERROR = "sandbox_error"  # the host failed to run the guest


@dataclass(frozen=True)
class Limits:
    """Bounds on one sandboxed run.

    `fuel` only applies where the backend meters WebAssembly instructions, and
    `processes` and `cpus` only where it runs native code (docker, process).
    """

    #: About 60 s of guest work at the interpreter's speed here; a suite that needs
    #: more raises it in its configuration.
    fuel: int = 40_000_000_000
    #: Linear memory of the guest (or address space of a process).
    memory_bytes: int = 512 * 1024 * 1024
    wall_seconds: float = 60.0
    #: Captured stdout and stderr each, and the report file.
    output_bytes: int = 1024 * 1024
    #: Processes and threads of the guest together, where the backend runs native
    #: code: the harness needs one, and hypothesis starts none.
    processes: int = 64
    #: CPU cores the guest may use at once (docker); a fraction throttles it.
    cpus: float = 1.0


@dataclass(frozen=True)
class Job:
    """One program to run in a sandbox.

    `files` maps paths relative to the job folder to their contents; the guest sees them
    read-only. `argv` names the script (relative to the job folder) and its arguments.
    The guest finds the job folder in `EVOLVER_JOB` and a writable folder for its report
    in `EVOLVER_OUT`. Only `EVOLVER_OUT/report.jsonl` is read back. `report_key` is
    handed to the guest once, so that the harness can authenticate its report: the
    wasm backend answers the first request for it, and the native backends write it
    to the guest's stdin and close the pipe. `cached` names files among `files` that
    many jobs carry unchanged; a backend may compile them once and keep the bytecode.
    """

    files: Mapping[str, bytes]
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    report_key: bytes = b""
    cached: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """What one sandboxed run did.

    `meter` names the unit of `usage` and `marks`: "fuel" (WebAssembly instructions,
    deterministic) or "seconds" (wall clock). `marks` are meter readings taken each time
    the guest asked for one, in order, counted from the start of the run.
    """

    outcome: Outcome
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    report: bytes
    meter: str
    usage: float
    marks: tuple[float, ...]
    wall_seconds: float
    detail: str = ""
    #: How often the guest requested the report key; the harness requests it once.
    #: Backends that hand the key over a pipe count 1 once the guest has read it.
    key_requests: int = 0
    #: Name of the backend that ran the job.
    backend: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK
