"""Backends that run untrusted code and report what it did as plain data."""

from ._base import BaseSandbox
from ._types import Job, Limits, Outcome, Result, SandboxError

__all__ = [
    "BACKENDS",
    "BaseSandbox",
    "Job",
    "Limits",
    "Outcome",
    "Result",
    "SandboxError",
    "create_sandbox",
]

#: Names accepted by `create_sandbox`.
BACKENDS = ("wasm",)


def create_sandbox(name: str, **options: object) -> BaseSandbox:
    """Create the backend called `name`; `options` go to its constructor."""
    if name == "wasm":
        from ._wasm import WasmSandbox

        return WasmSandbox(**options)
    raise ValueError(f"unknown sandbox {name!r}; choose one of: {', '.join(BACKENDS)}")
