"""The docker backend: one locked-down container per job, on the local engine.

Each job runs in a fresh container with no network, a read-only root filesystem, a
small tmpfs on /tmp, every capability dropped, `no-new-privileges`, a non-root user
and cgroup limits on memory (swap included), processes and CPU. The job folder, the
guest packages and their bytecode cache are bind-mounted read-only; only the out
folder is writable, and the host watches its size. stdout and stderr come back over
the attach stream and are capped on the host; the engine stores no log of them.

The wall-clock deadline is the host's: it kills the container. In case the host dies
first, the guest runs under coreutils `timeout` with a slightly later deadline. Each
container also carries the labels `evolver.owner` (pid and start time of the host
process) and `evolver.host`, and the next `DockerSandbox` on this machine removes the
containers of processes that are gone. A container is removed when its job ends,
also when the host is interrupted.

The report key goes to the guest's stdin over the attach stream, which is then closed.
Cost is wall-clock seconds; benchmarks repeat and the host takes the median.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
from pathlib import Path

from ._base import BaseSandbox, read_capped
from ._container import (
    HOST_LABEL,
    OWNER_LABEL,
    ContainerRun,
    classify,
    guest_user,
    owner_label,
    remove_container,
    remove_leftovers,
)
from ._image import DEFAULT_IMAGE
from ._runtime import WARM_UP, guest_packages_path, native_bytecode_path
from ._types import Job, Limits, Outcome, Result, SandboxError

#: Flags of the guest interpreter: no user or system site-packages, no script folder
#: on the path, no bytecode written.
PYTHON_FLAGS = ("-s", "-S", "-P", "-B")
#: Environment variable that names the image when no `image` option is given.
IMAGE_VARIABLE = "EVOLVER_DOCKER_IMAGE"
#: Size of the writable /tmp, which also contains hypothesis's cache. It counts
#: against the memory limit.
TMPFS_BYTES = 32 * 1024 * 1024
#: Open files a guest may hold: the interpreter, hypothesis and the harness need
#: about 20.
OPEN_FILES = 256
#: Extra seconds the in-container `timeout` allows beyond the host's deadline.
BACKSTOP_SECONDS = 10
#: Seconds the engine may take to respond to one request.
ENGINE_TIMEOUT = 60



class DockerSandbox(BaseSandbox):
    """Run jobs in containers of `image` on the local Docker engine."""

    name = "docker"
    meter = "seconds"

    def __init__(self, image: str | None = None) -> None:
        import docker

        self._docker = docker
        self.image = image or os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE
        _check_socket()
        try:
            self._client = docker.from_env(timeout=ENGINE_TIMEOUT)
        except docker.errors.DockerException as error:
            raise SandboxError(
                f"No Docker engine answers ({error}). Start one (for example: dockerd &) "
                "or choose another sandbox."
            ) from error
        try:
            image_id = self._find_image()
        except BaseException:
            self._client.close()
            raise
        self._owner = owner_label(os.getpid())
        self._host = socket.gethostname()
        remove_leftovers(self._client, self._host)
        self._user = guest_user()
        self._packages = guest_packages_path()
        self._bytecode = native_bytecode_path(
            f"docker-{image_id.split(':')[-1][:12]}", self._compile_into
        )

    def close(self) -> None:
        self._client.close()

    def _find_image(self) -> str:
        errors = self._docker.errors
        try:
            self._client.ping()
        except errors.DockerException as error:
            raise SandboxError(
                f"No Docker engine answers ({error}). Start one (for example: dockerd &) "
                "or choose another sandbox."
            ) from error
        try:
            return self._client.images.get(self.image).id
        except errors.ImageNotFound as error:
            raise SandboxError(
                f"The Docker image {self.image} is missing. Build it with: "
                f"evolver sandbox build-image --tag {self.image}"
            ) from error

    def _run_impl(self, job: Job, job_dir: Path, out_dir: Path) -> Result:
        limits = job.limits
        os.chmod(out_dir, 0o777)
        script, *arguments = job.argv
        command = [
            "timeout",
            "--signal=KILL",
            str(math.ceil(limits.wall_seconds) + BACKSTOP_SECONDS),
            "python3",
            *PYTHON_FLAGS,
            f"/job/{script}",
            *arguments,
        ]
        environment = {
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "EVOLVER_JOB": "/job",
            "EVOLVER_OUT": "/out",
            "EVOLVER_METER": self.meter,
            "EVOLVER_KEY_SOURCE": "stdin",
            "PYTHONPATH": "/guest",
            "PYTHONPYCACHEPREFIX": "/pyc",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "HYPOTHESIS_STORAGE_DIRECTORY": "/tmp/.hypothesis",
            **job.env,
        }
        volumes = {
            str(job_dir): {"bind": "/job", "mode": "ro"},
            str(self._packages): {"bind": "/guest", "mode": "ro"},
            str(self._bytecode): {"bind": "/pyc", "mode": "ro"},
            str(out_dir): {"bind": "/out", "mode": "rw"},
        }
        container = self._create(command, environment, volumes, limits)
        try:
            run = ContainerRun(self._client, container, limits, out_dir)
            started = time.perf_counter()
            run.start(job.report_key)
            wall = time.perf_counter() - started
            state = self._client.api.inspect_container(container.id)["State"]
        finally:
            remove_container(container)

        report, report_cut = read_capped(out_dir / "report.jsonl", limits.output_bytes)
        if report_cut:
            run.stop(Outcome.OUTPUT, "the report file exceeded the output cap")
        exit_code = state.get("ExitCode")
        outcome, detail = classify(run, state, limits)
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

    def _create(self, command, environment, volumes, limits: Limits, *, name="eval"):
        """Create a container for `command` and return its model; it is not started."""
        api, types = self._client.api, self._docker.types
        binds = [f"{source}:{mount['bind']}:{mount['mode']}" for source, mount in volumes.items()]
        host_config = api.create_host_config(
            binds=binds,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"size={TMPFS_BYTES},mode=1777,nosuid,nodev"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            pids_limit=limits.processes,
            nano_cpus=int(limits.cpus * 1e9),
            ulimits=[
                types.Ulimit(name="nofile", soft=OPEN_FILES, hard=OPEN_FILES),
                types.Ulimit(
                    name="fsize", soft=limits.output_bytes, hard=limits.output_bytes
                ),
                types.Ulimit(name="core", soft=0, hard=0),
            ],
            log_config=types.LogConfig(type="none"),
        )
        try:
            created = api.create_container(
                self.image,
                command,
                name=f"evolver-{name}-{os.getpid()}-{secrets.token_hex(4)}",
                labels={OWNER_LABEL: self._owner, HOST_LABEL: self._host},
                user=self._user,
                environment=environment,
                working_dir="/tmp",
                hostname="sandbox",
                # Without detach, an open stdin is closed when the attach ends.
                stdin_open=True,
                detach=False,
                network_disabled=True,
                # A proxy from the client's configuration has no business in a guest
                # without a network.
                use_config_proxy=False,
                host_config=host_config,
            )
        except self._docker.errors.ImageNotFound as error:
            raise SandboxError(
                f"The Docker image {self.image} is missing. Build it with: "
                f"evolver sandbox build-image --tag {self.image}"
            ) from error
        return self._client.containers.prepare_model({"Id": created["Id"]})

    def _compile_into(self, folder: Path) -> None:
        """Compile the guest packages' bytecode in a trusted container run."""
        limits = Limits(wall_seconds=300, memory_bytes=1 << 30, output_bytes=1 << 20)
        volumes = {
            str(self._packages): {"bind": "/guest", "mode": "ro"},
            str(folder): {"bind": "/pyc", "mode": "rw"},
        }
        environment = {
            "PYTHONPATH": "/guest",
            "PYTHONPYCACHEPREFIX": "/pyc",
            "HOME": "/tmp",
        }
        command = ["python3", "-s", "-S", "-P", "-c", WARM_UP]
        container = self._create(command, environment, volumes, limits, name="compile")
        try:
            container.start()
            status = container.wait(timeout=limits.wall_seconds)
        finally:
            remove_container(container)
        if status.get("StatusCode") != 0:
            raise SandboxError(
                f"The image {self.image} could not import hypothesis while compiling its "
                f"bytecode cache in {folder} (exit {status.get('StatusCode')}). Check that "
                "its python3 is CPython 3.11 or newer."
            )


def _check_socket() -> None:
    """Raise `SandboxError` when the engine's Unix socket does not exist.

    The Docker SDK leaves a socket open when it cannot reach the engine while it
    negotiates the API version, so a missing socket is reported before it starts.
    """
    address = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if address.startswith("unix://"):
        path = address[len("unix://"):]
        if not os.path.exists(path):
            raise SandboxError(
                f"No Docker engine answers: there is no socket at {path}. Start one "
                "(for example: dockerd &) or choose another sandbox."
            )
