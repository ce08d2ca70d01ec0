"""The shared part of every sandbox backend."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ._types import Job, Outcome, Result

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
                return Result(
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
            return result
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def close(self) -> None:
        """Release what the backend holds (engines, clients)."""

    def __enter__(self) -> BaseSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run_impl(self, job: Job, job_dir: Path, out_dir: Path) -> Result:
        raise NotImplementedError


def write_job_files(job: Job, job_dir: Path) -> None:
    """Write the job's files below `job_dir`, rejecting paths that leave it."""
    job_dir.mkdir(parents=True)
    root = job_dir.resolve()
    for relative, content in job.files.items():
        destination = (job_dir / relative).resolve()
        if root not in destination.parents:
            raise ValueError(f"job file path {relative!r} leaves the job folder")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
        os.chmod(destination, 0o444)


def read_capped(path: Path, cap: int) -> tuple[bytes, bool]:
    """Read at most `cap` bytes of `path`; return the bytes and whether more existed."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(cap + 1)
    except FileNotFoundError:
        return b"", False
    return data[:cap], len(data) > cap
