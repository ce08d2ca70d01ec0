"""Run one guest under resource limits and leave none of its processes behind.

The process backend starts this file as a script with the host's Python, in a new
session, with one argument: a JSON object giving the guest's `argv`, `env`, `cwd`,
`limits`, the host's pid `parent` and the descriptor `status_fd` to write the outcome
to. It imports only the standard library.

The supervisor forks the guest into a process group of its own, applies the resource
limits there and waits for it until the wall-clock deadline or a SIGTERM from the
host. Then it kills whatever is left of the guest: its process group first, and then,
round by round, every remaining child of the supervisor. On Linux the supervisor is a
child subreaper, so a descendant that left the group (with `setsid`, or by a double
fork) is reparented to it rather than to init, and so is found and killed too. Last it
writes one JSON line to `status_fd`: the guest's wait status, why it was stopped, how
many leftover processes it killed and the guest's peak resident memory.

On Linux the supervisor also asks for a SIGTERM when the thread of the host that
started it ends, so a host that is killed outright still has its guest stopped.
"""

import json
import math
import os
import resource
import select
import signal
import sys
import time

#: PR_SET_PDEATHSIG and PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
_SET_PARENT_DEATH_SIGNAL = 1
_SET_CHILD_SUBREAPER = 36
#: How often the supervisor looks at the guest where it has no pidfd to wait on.
_POLL_SECONDS = 0.02
#: Rounds of killing leftovers before the supervisor gives up on a process that
#: keeps forking faster than it is killed.
_MAX_ROUNDS = 1000


class _Stopped(Exception):
    """The host asked the supervisor to stop the guest."""


def main() -> int:
    spec = json.loads(sys.argv[1])
    status_fd = spec["status_fd"]
    signal.signal(signal.SIGTERM, _raise_stopped)
    subreaper = _prctl(_SET_CHILD_SUBREAPER, 1)

    guest = None
    status = None
    reason = None
    try:
        _prctl(_SET_PARENT_DEATH_SIGNAL, signal.SIGTERM)
        if os.getppid() != spec["parent"]:
            # The host ended before the request above took effect.
            raise _Stopped
        guest = os.fork()
        if guest == 0:
            _exec_guest(spec, status_fd)
        os.close(0)
        status = _wait(guest, spec["limits"]["wall_seconds"])
        if status is None:
            reason = "timeout"
    except _Stopped:
        reason = "stopped"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    left = 0
    if guest:
        if status is None:
            _kill_group(guest)
            _, status = os.waitpid(guest, 0)
        left = _kill_leftovers(guest)

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "status": status,
        "reason": reason,
        "left": left,
        "subreaper": subreaper,
        "max_rss_kb": usage.ru_maxrss,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    os.write(status_fd, (json.dumps(report) + "\n").encode())
    os.close(status_fd)
    return 0


_stopping = []


def _raise_stopped(signum, frame):
    # Only the first request interrupts the wait; a repeated SIGTERM must not break
    # the cleanup that follows it.
    if not _stopping:
        _stopping.append(signum)
        raise _Stopped


def _prctl(option: int, value: int) -> bool:
    """Call Linux's prctl(option, value); return whether it succeeded."""
    if sys.platform != "linux":
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):
        return False


def _exec_guest(spec: dict, status_fd: int) -> None:
    """Become the guest: own process group, limits, then exec. Never returns."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setpgid(0, 0)
        os.close(status_fd)
        _apply_limits(spec["limits"])
        os.chdir(spec["cwd"])
        argv = spec["argv"]
        os.execve(argv[0], argv, spec["env"])
    except BaseException as error:  # noqa: BLE001 - the child must never return
        os.write(2, f"evolver supervisor: cannot start the guest: {error}\n".encode())
    os._exit(127)


def _apply_limits(limits: dict) -> None:
    def cap(name: str, value: int) -> None:
        kind = getattr(resource, name, None)
        if kind is None:
            return
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))

    # The wall-clock deadline ends the guest first; CPU time is the backstop for a
    # guest whose supervisor is gone.
    cap("RLIMIT_CPU", math.ceil(limits["wall_seconds"]) + 1)
    cap("RLIMIT_AS", limits["memory_bytes"])
    cap("RLIMIT_FSIZE", limits["output_bytes"])
    cap("RLIMIT_NOFILE", limits["open_files"])
    cap("RLIMIT_CORE", 0)
    # RLIMIT_NPROC counts every process of the user, and root ignores it, so the
    # guest's share is added to what the user runs already.
    if os.getuid() != 0:
        cap("RLIMIT_NPROC", _count_user_processes() + limits["processes"])


def _count_user_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                continue
    return count


def _wait(pid: int, seconds: float):
    """Return the guest's wait status, or None when the deadline passed first."""
    deadline = time.monotonic() + seconds
    pidfd = _open_pidfd(pid)
    try:
        while True:
            waited, status = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if pidfd is None:
                time.sleep(min(_POLL_SECONDS, remaining))
            else:
                select.select([pidfd], [], [], remaining)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _open_pidfd(pid: int):
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_leftovers(guest: int) -> int:
    """Kill and reap every process left of the guest; return how many there were.

    A leftover is a process of the guest's group or a child of the supervisor. Killing
    a child makes its own children the supervisor's, so the rounds go on until the
    supervisor has no child left.
    """
    me = os.getpid()
    seen = set()
    for _ in range(_MAX_ROUNDS):
        _kill_group(guest)
        for pid in _leftovers(me, guest):
            seen.add(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:
            if not _leftovers(me, guest):
                return len(seen)
        time.sleep(0.005)
    return len(seen)


def _leftovers(parent: int, group: int) -> list[int]:
    """Return the processes whose parent is `parent` or whose group is `group`."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp. A zombie is already dead.
        if len(fields) > 2 and fields[0] != b"Z":
            if int(fields[1]) == parent or int(fields[2]) == group:
                found.append(int(entry))
    return found


if __name__ == "__main__":
    sys.exit(main())
