"""The warm wasm mode: one started guest per sandbox, forked for each job.

A fresh wasm evaluation pays for the interpreter's start and for importing hypothesis
every time. `WarmWasmSandbox` pays once: it starts a server process (`_zygote.py`) whose
guest imports the shared files and a warm-up, and then evaluates each job in a fork of
that guest. A job fits the warm guest when it runs the shared entry script with the
shared files unchanged, no extra environment and the memory limit the guest was started
with. Any other job runs in a fresh guest, as `WasmSandbox` runs it.

The fork gives each job a private copy of the started guest, so the isolation between
jobs is that of fresh guests, and the fuel of a job does not depend on the jobs before
it. Jobs of the canary gate do not use this mode: they run in fresh guests.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from ._base import (
    BaseSandbox,
    process_exists,
    read_capped,
    remove_tree,
    write_job_files,
)
from ._types import Job, Limits, Outcome, Result, SandboxError

#: Byte count of the `random_get` request at which the guest is forked. Like the meter
#: mark it is an odd size that no library requests, and only the first request forks.
FORK_LENGTH = 53
#: Name of the file in the out folder where the started guest lists the addresses of
#: its objects for the server to make immortal, after a first word containing the count
#: that marks an object immortal.
IMMORTAL_FILE = ".immortal-objects"
#: Worker threads of wasmtime's internal runtime, fixed so that the server can tell
#: how many threads it has when the idle file-operation threads are gone.
RUNTIME_THREADS = 1
#: Maximum time the server may take to start its guest and report ready.
START_SECONDS = 180.0
#: Time the client waits for the server beyond a job's wall-clock limit.
RESPONSE_GRACE_SECONDS = 15.0
#: Start of the name of a warm sandbox's folder in the temporary folder, followed by
#: the process id of its owner and a random part.
FOLDER_PREFIX = "evolver-warm-"


#: The script the warm guest runs. It imports what every job needs, lists its objects
#: for the server, and requests the fork. Each fork runs one job's entry script as
#: `__main__` and ends without the interpreter's teardown, which would cost more fuel
#: than a small job uses.
_GUEST_SCRIPT = """\
import os, sys
sys.path.insert(0, '/warm')
$warm_up
with open('/warm/$entry', encoding='utf-8') as handle:
    code = compile(handle.read(), '/job/$entry', 'exec')
del handle


def reachable_objects():
    \"\"\"Return every object the collector tracks and every object they refer to.\"\"\"
    import gc
    gc.collect()
    found = gc.get_objects()
    seen = set(map(id, found))
    pending = list(found)
    while pending:
        batch = pending[-1000:]
        del pending[-1000:]
        for item in gc.get_referents(*batch):
            if id(item) not in seen:
                seen.add(id(item))
                found.append(item)
                pending.append(item)
    return found


# CPython 3.12 never changes the reference count of an immortal object. The server
# marks every object alive now as immortal, so that a job reading an object does not
# make its fork copy the page the object is on. `started_objects` keeps every listed
# object alive, so that no listed address is freed and reused before the server
# writes to it.
if sys.implementation.name == 'cpython' and sys.version_info[:2] == (3, 12):
    import array, gc
    started_objects = reachable_objects()
    addresses = array.array('I', [sys.getrefcount(None)])
    addresses.extend(map(id, started_objects))
    with open('/out/$immortal_file', 'wb') as handle:
        addresses.tofile(handle)
    del addresses, handle
    gc.freeze()
os.urandom($fork_length)
main = type(sys)('__main__')
main.__file__ = '/job/$entry'
sys.modules['__main__'] = main
sys.argv = ['/job/$entry']
try:
    exec(code, main.__dict__)
    status = 0
except SystemExit as stop:
    status = stop.code if isinstance(stop.code, int) else 1
    if not isinstance(stop.code, int) and stop.code is not None:
        print(stop.code, file=sys.stderr)
    status = 0 if stop.code is None else status
except BaseException:
    import traceback
    traceback.print_exc()
    status = 1
sys.stdout.flush()
sys.stderr.flush()
os._exit(status)
"""


def remove_orphaned_folders(root: Path | None = None) -> int:
    """Remove the warm sandboxes' folders whose owner process has ended.

    An owner killed with SIGKILL cannot remove its folder, which contains the last
    candidate and suite. Return how many folders were removed.
    """
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = 0
    for folder in root.glob(f"{FOLDER_PREFIX}*-*"):
        owner = folder.name[len(FOLDER_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not process_exists(int(owner)):
            remove_tree(folder)
            removed += 1
    return removed


class WarmWasmSandbox(BaseSandbox):
    """Evaluate jobs in forks of one started guest.

    `shared` maps file names to the contents every job carries (such as the harness);
    `entry` names the one among them that jobs run, and `warm_up` is Python code the
    guest runs before it is forked, with the shared files importable: the imports
    and first calls that every job would otherwise repeat. Like `WasmSandbox`, one
    instance serves one job at a time.
    """

    name = "wasm"
    meter = "fuel"

    def __init__(
        self,
        shared: Mapping[str, bytes],
        entry: str,
        warm_up: str = "",
        memory_bytes: int = Limits().memory_bytes,
    ) -> None:
        if entry not in shared:
            raise ValueError(f"the entry script {entry!r} is not among the shared files")
        self._shared = dict(shared)
        self._entry = entry
        self._warm_up = warm_up
        self._memory_bytes = memory_bytes
        remove_orphaned_folders()
        self._folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        self._cold: BaseSandbox | None = None
        #: The files in the job folder, as the last job wrote them.
        self._job_files: dict[str, bytes] = {}
        self._server: subprocess.Popen | None = None
        self._connection = None
        self.forks = 0
        try:
            self._lay_out()
            # The fresh sandbox compiles the interpreter and the guest's bytecode
            # cache if they are not cached yet. The server must not do that itself:
            # wasmtime's compiler threads would stay, and the server forks only once
            # it has no threads but its own.
            self._cold_sandbox()
            self._start_server()
        except BaseException:
            self.close()
            raise

    def run(self, job: Job) -> Result:
        if not self._fits(job):
            return self._cold_sandbox().run(job)
        started = time.perf_counter()
        try:
            if self._server is not None and self._server.poll() is not None:
                # The server died between jobs, so this job goes to a new one.
                self._stop_server()
            if self._server is None:
                self._start_server()
            result = self._run_warm(job)
        except (OSError, EOFError, SandboxError) as error:
            self._stop_server()
            return self._error_result(error, started)
        return result

    def close(self) -> None:
        self._stop_server()
        if self._cold is not None:
            self._cold.close()
            self._cold = None
        remove_tree(self._folder)

    def _fits(self, job: Job) -> bool:
        if job.argv != (self._entry,) or job.env:
            return False
        if job.limits.memory_bytes != self._memory_bytes:
            return False
        return all(job.files.get(name) == content for name, content in self._shared.items())

    def _cold_sandbox(self) -> BaseSandbox:
        if self._cold is None:
            from ._wasm import WasmSandbox

            self._cold = WasmSandbox()
        return self._cold

    def _lay_out(self) -> None:
        warm = self._folder / "warm"
        write_job_files(Job(files=self._shared, argv=(self._entry,)), warm)
        (warm / "zygote.py").write_text(self._guest_script())
        for name in ("job", "out"):
            (self._folder / name).mkdir()

    def _guest_script(self) -> str:
        return string.Template(_GUEST_SCRIPT).substitute(
            warm_up=self._warm_up,
            entry=self._entry,
            immortal_file=IMMORTAL_FILE,
            fork_length=FORK_LENGTH,
        )

    def _start_server(self) -> None:
        ours, theirs = multiprocessing.Pipe()
        environment = {**os.environ, "TOKIO_WORKER_THREADS": str(RUNTIME_THREADS)}
        log = open(self._folder / "server.log", "wb")
        try:
            self._server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sandbox._zygote",
                    str(self._folder),
                    str(self._memory_bytes),
                    str(theirs.fileno()),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=environment,
                cwd=str(self._folder),
            )
        finally:
            log.close()
            theirs.close()
        self._connection = ours
        if not ours.poll(START_SECONDS):
            self._stop_server()
            raise SandboxError(
                f"The warm wasm guest did not start within {START_SECONDS:.0f} s. "
                f"{self._server_log()}"
            )
        try:
            kind, detail = ours.recv()
        except EOFError:
            kind, detail = "failed", "the server exited"
        if kind != "ready":
            self._stop_server()
            raise SandboxError(
                f"The warm wasm guest could not start: {detail}. {self._server_log()}"
            )

    def _run_warm(self, job: Job) -> Result:
        assert self._connection is not None
        out_dir = self._folder / "out"
        _empty(out_dir)
        self._write_job_files(job)
        limits = job.limits
        self._connection.send(
            {
                "fuel": limits.fuel,
                "wall_seconds": limits.wall_seconds,
                "output_bytes": limits.output_bytes,
                "report_key": job.report_key,
            }
        )
        self.forks += 1
        if not self._connection.poll(limits.wall_seconds + RESPONSE_GRACE_SECONDS):
            raise SandboxError("the warm wasm server did not return a result in time")
        try:
            kind, payload = self._connection.recv()
        except EOFError:
            raise SandboxError("the warm wasm server ended during the job") from None
        if kind != "done":
            raise SandboxError(f"the warm wasm server failed: {payload}")
        report, report_cut = read_capped(out_dir / "report.jsonl", limits.output_bytes)
        outcome, detail = Outcome(payload["outcome"]), payload["detail"]
        if report_cut and outcome is Outcome.OK:
            outcome, detail = Outcome.OUTPUT, "the report file exceeded the output cap"
        return Result(
            backend=self.name,
            outcome=outcome,
            exit_code=payload["exit_code"],
            stdout=payload["stdout"],
            stderr=payload["stderr"],
            report=report,
            meter=self.meter,
            usage=payload["usage"],
            marks=payload["marks"],
            wall_seconds=payload["wall_seconds"],
            detail=detail,
            key_requests=payload["key_requests"],
        )

    def _write_job_files(self, job: Job) -> None:
        """Make the job folder hold the job's files, writing only those that changed.

        Jobs differ in the candidate and little else, and the guest cannot write to
        the job folder, so the files of the last job are known without reading them.
        """
        job_dir = self._folder / "job"
        try:
            for name in self._job_files.keys() - job.files.keys():
                (job_dir / name).unlink()
                del self._job_files[name]
            changed = {
                name: content
                for name, content in job.files.items()
                if self._job_files.get(name) != content
            }
            for name in changed.keys() & self._job_files.keys():
                (job_dir / name).unlink()
            self._job_files.update(changed)
            write_job_files(Job(files=changed, argv=job.argv), job_dir, exist_ok=True)
        except BaseException:
            self._job_files.clear()
            _empty(job_dir)
            raise

    def _stop_server(self) -> None:
        if self._connection is not None:
            try:
                self._connection.send(None)
            except OSError:
                pass
            self._connection.close()
            self._connection = None
        if self._server is not None:
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None

    def _server_log(self) -> str:
        try:
            tail = (self._folder / "server.log").read_bytes()[-2000:]
        except OSError:
            return ""
        text = tail.decode(errors="replace").strip()
        return f"Its log ends with: {text}" if text else ""


def _empty(folder: Path) -> None:
    """Remove what `folder` contains but keep the folder, which the guest has open."""
    for entry in os.scandir(folder):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            remove_tree(path)
        else:
            try:
                path.unlink()
            except OSError:
                os.chmod(folder, 0o700)
                path.unlink(missing_ok=True)
    if any(os.scandir(folder)):
        shutil.rmtree(folder, ignore_errors=True)
        raise SandboxError(f"could not empty {folder}")
