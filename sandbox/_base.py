"""The shared part of every sandbox backend."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from ._types import Job, Limits, Outcome, Result

#: How Python reports a write past RLIMIT_FSIZE: it ignores SIGXFSZ, so the write
#: fails with EFBIG instead of killing the process.
_FILE_TOO_LARGE = f"[Errno {errno.EFBIG}] {os.strerror(errno.EFBIG)}".encode()

#: Name of the file in the guest's out folder that the host reads back.
REPORT_NAME = "report.jsonl"


class BaseSandbox:
    """Run jobs in isolation; subclasses implement `_run_impl`.

    `run` lays out the job's files in a fresh temporary folder, calls the backend, reads
    the report back with the output cap applied and removes every temporary file, also
    when the backend fails. A backend error becomes an `Outcome.ERROR` result.
    """

    name: str = "base"
    meter: str = "seconds"
    #: False for a backend that does not isolate the guest from the host's files,
    #: network and processes; choosing it must say so.
    security_boundary: bool = True

    def run(self, job: Job) -> Result:
        started = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix=f"evolver-{self.name}-"))
        try:
            job_dir = scratch / "job"
            out_dir = scratch / "out"
            write_job_files(job, job_dir)
            out_dir.mkdir()
            try:
                result = self._run_impl(job, job_dir, out_dir)
            except Exception as error:  # noqa: BLE001 - a backend failure is data here
                return self._error_result(error, started)
            return dataclasses.replace(result, backend=self.name)
        finally:
            remove_tree(scratch)

    def close(self) -> None:
        """Release what the backend holds (engines, clients)."""

    def _error_result(self, error: BaseException, started: float) -> Result:
        """Return the result of a job that the backend itself failed to run."""
        return Result(
            backend=self.name,
            outcome=Outcome.ERROR,
            exit_code=None,
            stdout=b"",
            stderr=b"",
            report=b"",
            meter=self.meter,
            usage=0.0,
            marks=(),
            wall_seconds=time.perf_counter() - started,
            detail=f"{type(error).__name__}: {error}",
        )

    def __enter__(self) -> BaseSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run_impl(self, job: Job, job_dir: Path, out_dir: Path) -> Result:
        raise NotImplementedError


def write_job_files(job: Job, job_dir: Path, *, exist_ok: bool = False) -> None:
    """Write the job's files below `job_dir`, rejecting paths that leave it."""
    job_dir.mkdir(parents=True, exist_ok=exist_ok)
    root = job_dir.resolve()
    for relative, content in job.files.items():
        destination = (job_dir / relative).resolve()
        if root not in destination.parents:
            raise ValueError(f"job file path {relative!r} leaves the job folder")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
        os.chmod(destination, 0o444)


def read_capped(path: Path, cap: int) -> tuple[bytes, bool]:
    """Read at most `cap` bytes of `path`; return the bytes and whether more existed.

    A guest that can write its out folder could leave a symbolic link, a FIFO or a
    device in place of the report, so only a regular file is read, without following
    links and without blocking; anything else reads as empty.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return b"", False
    with open(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return b"", False
        data = handle.read(cap + 1)
    return data[:cap], len(data) > cap


def explain_exit(stderr: bytes, limits: Limits) -> tuple[Outcome, str] | None:
    """Classify a native guest's failed exit by the error Python printed last, if any."""
    tail = stderr[-4096:]
    if b"MemoryError" in tail:
        return Outcome.MEMORY, f"the guest ran out of its {limits.memory_bytes} bytes of memory"
    if _FILE_TOO_LARGE in tail:
        return Outcome.OUTPUT, f"the guest wrote a file larger than {limits.output_bytes} bytes"
    return None


def folder_size(folder: Path) -> int:
    """Return the bytes of every file below `folder`, links not followed."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.lstat().st_size
        except OSError:
            continue
    return total


def process_exists(pid: int) -> bool:
    """Return whether a process with this id exists, another user's included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_tree(folder: Path) -> None:
    """Remove `folder`, also where the guest took away the owner's permissions.

    Folders are made accessible from the top down first; links are never followed, so
    a link the guest left cannot make this change anything outside `folder`.
    """
    for root, folders, _ in os.walk(folder):
        for name in folders:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                try:
                    os.chmod(path, 0o700)
                except OSError:
                    pass
    shutil.rmtree(folder, ignore_errors=True)
