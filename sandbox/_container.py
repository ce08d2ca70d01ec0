"""One container's run on the engine, its cleanup, and the leftovers of dead hosts.

`ContainerRun` starts a created container, hands it the report key over the attach
stream, caps its output, and kills it at the deadline or when output overflows.
`remove_leftovers` removes the containers whose owning host process is gone, which
the labels `evolver.owner` (pid and start time) and `evolver.host` identify.
"""

from __future__ import annotations

import math
import os
import socket
import struct
import threading
import time
from pathlib import Path

from ._base import explain_exit, folder_size, process_exists
from ._types import Limits, Outcome

#: How often the watchdog looks at the clock and the out folder.
WATCHDOG_PERIOD = 0.05
#: Labels that name the host process that created a container, and its machine.
OWNER_LABEL = "evolver.owner"
HOST_LABEL = "evolver.host"
#: Exit statuses of `timeout` and the shell convention: 128 plus the signal number.
_SIGNAL_BASE = 128
_CRASHES = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}


class ContainerRun:
    """One container's run: the attach stream, output caps and the stop reason."""

    def __init__(self, client, container, limits: Limits, out_dir: Path) -> None:
        self.client = client
        self.container = container
        self.limits = limits
        self.out_dir = out_dir
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.reason: Outcome | None = None
        self.reason_detail = ""
        self.key_sent = False
        self._lock = threading.Lock()

    def start(self, key: bytes) -> None:
        """Start the container, hand it the key and wait for its end or the deadline."""
        attached = self.client.api.attach_socket(
            self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        raw = attached._sock
        try:
            self.container.start()
            deadline = time.monotonic() + self.limits.wall_seconds
            try:
                raw.sendall(key)
                raw.shutdown(socket.SHUT_WR)
                self.key_sent = True
            except OSError:
                pass
            reader = threading.Thread(target=self._read, args=(raw,), daemon=True)
            reader.start()
            done = threading.Event()
            watcher = threading.Thread(target=self._watch, args=(deadline, done), daemon=True)
            watcher.start()
            try:
                self._wait(deadline)
            finally:
                if self.reason is not None:
                    self._kill()
                done.set()
                watcher.join()
            reader.join(timeout=5)
        finally:
            attached.close()
            raw.close()

    def _wait(self, deadline: float) -> None:
        import requests

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop(Outcome.TIMEOUT, "the wall-clock deadline passed")
                self._kill()
                return
            try:
                # The engine's wait returns when the container ends; the timeout is
                # the HTTP client's, so it is rounded up to whole seconds.
                self.container.wait(timeout=max(1, math.ceil(remaining)))
                return
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                continue

    def _read(self, raw) -> None:
        """Demultiplex the attach stream into capped stdout and stderr."""
        buffers = {1: (self.stdout, "stdout"), 2: (self.stderr, "stderr")}
        cap = self.limits.output_bytes
        while True:
            header = _receive(raw, 8)
            if len(header) < 8:
                return
            stream, size = struct.unpack(">BxxxL", header)
            payload = _receive(raw, size)
            buffer, name = buffers.get(stream, (None, ""))
            if buffer is None:
                continue
            room = cap - len(buffer)
            if room > 0:
                buffer.extend(payload[:room])
            if len(payload) > room:
                self.stop(Outcome.OUTPUT, f"{name} exceeded {cap} bytes")

    def _watch(self, deadline: float, done: threading.Event) -> None:
        while not done.wait(WATCHDOG_PERIOD):
            if self.reason is None and time.monotonic() > deadline:
                self.stop(Outcome.TIMEOUT, "the wall-clock deadline passed")
            if self.reason is None and folder_size(self.out_dir) > self.limits.output_bytes:
                self.stop(Outcome.OUTPUT, "the out folder exceeded the output cap")
            if self.reason is not None:
                self._kill()
                return

    def stop(self, reason: Outcome, detail: str) -> None:
        """Record why the guest is stopped; the first reason wins.

        The watchdog thread kills the container. The reader thread must not: the
        engine ends a container only once its output is copied out, so a kill from
        the thread that reads that output would wait for itself.
        """
        with self._lock:
            if self.reason is None:
                self.reason = reason
                self.reason_detail = detail

    def _kill(self) -> None:
        try:
            self.container.kill()
        except Exception:  # noqa: BLE001 - the container may have ended already
            pass


def _receive(raw, size: int) -> bytes:
    chunks = []
    while size > 0:
        try:
            chunk = raw.recv(min(size, 65536))
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def classify(run: ContainerRun, state: dict, limits: Limits) -> tuple[Outcome, str]:
    if run.reason is not None:
        return run.reason, run.reason_detail
    if state.get("OOMKilled"):
        return Outcome.MEMORY, f"the guest ran out of its {limits.memory_bytes} bytes of memory"
    code = state.get("ExitCode")
    if code == 0:
        return Outcome.OK, ""
    if isinstance(code, int) and code > _SIGNAL_BASE:
        number = code - _SIGNAL_BASE
        if number == 9:
            return Outcome.TIMEOUT, "the guest outlived the in-container time limit"
        if number == 25:
            return Outcome.OUTPUT, f"the guest wrote a file larger than {limits.output_bytes} bytes"
        if number in _CRASHES:
            return Outcome.TRAP, f"the guest crashed with {_CRASHES[number]}"
    return explain_exit(run.stderr, limits) or (
        Outcome.EXIT,
        f"the guest exited with status {code}",
    )


def remove_container(container) -> None:
    """Remove `container`; a second Ctrl-C while doing so does not stop the removal."""
    for _ in range(3):
        try:
            container.remove(force=True)
            return
        except KeyboardInterrupt:
            continue
        except Exception:  # noqa: BLE001 - gone already, or the engine went away
            return


def guest_user() -> str:
    # A container user other than the host's would leave files in the out folder
    # that the host cannot remove, unless the host is root.
    uid, gid = os.getuid(), os.getgid()
    return "65534:65534" if uid == 0 else f"{uid}:{gid}"


def owner_label(pid: int) -> str:
    return f"{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    """Return the start time of process `pid` in clock ticks since boot, or ""."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return ""


def _owner_alive(owner: str) -> bool:
    pid_text, _, started = owner.partition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if started:
        # The start time distinguishes a live owner from a new process with its pid.
        return _start_time(pid) == started
    return process_exists(pid)


def remove_leftovers(client, host: str | None = None) -> list[str]:
    """Remove the evolver containers on this host whose owning process is gone.

    Returns the names of the containers removed.
    """
    host = host or socket.gethostname()
    removed = []
    filters = {"label": [OWNER_LABEL, f"{HOST_LABEL}={host}"]}
    for container in client.containers.list(all=True, filters=filters):
        if _owner_alive(container.labels.get(OWNER_LABEL, "")):
            continue
        remove_container(container)
        removed.append(container.name)
    return removed
