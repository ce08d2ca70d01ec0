"""Backends that run untrusted code and report what it did as plain data."""

from ._base import BaseSandbox, process_exists
from ._types import Job, Limits, Outcome, Result, SandboxError
from ._warm import WarmWasmSandbox, remove_orphaned_folders

__all__ = [
    "BACKENDS",
    "BaseSandbox",
    "Job",
    "Limits",
    "Outcome",
    "Result",
    "SandboxError",
    "WarmWasmSandbox",
    "boundary_warning",
    "create_sandbox",
    "process_exists",
    "remove_orphaned_folders",
]

#: Names accepted by `create_sandbox`: `wasm` (the default), `docker` and `process`.
BACKENDS = ("wasm", "docker", "process")


def create_sandbox(name: str, **options: object) -> BaseSandbox:
    """Create the backend called `name`; `options` go to its constructor.

    Raises `SandboxError` when the backend cannot start here (no engine, no image,
    no interpreter) and `ValueError` for an unknown name.
    """
    if name == "wasm":
        from ._wasm import WasmSandbox

        return WasmSandbox(**options)
    if name == "docker":
        from ._docker import DockerSandbox

        return DockerSandbox(**options)  # type: ignore[arg-type]
    if name == "process":
        from ._process import ProcessSandbox

        return ProcessSandbox(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown sandbox {name!r}; choose one of: {', '.join(BACKENDS)}")


def boundary_warning(name: str) -> str | None:
    """Return the warning to print when the backend `name` is chosen, or None.

    Only the process backend has one: it does not isolate the guest from the host.
    """
    if name == "process":
        return (
            "Warning: the process sandbox is not a security boundary. Candidates run "
            "as your user, with your files, network and processes in reach; use it "
            "for trusted code only, and the wasm or docker sandbox for anything else."
        )
    return None
