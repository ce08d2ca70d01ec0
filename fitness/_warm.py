"""The warm wasm sandbox, set up for the harness."""

from __future__ import annotations

from sandbox import Limits, WarmWasmSandbox

from ._evaluate import harness_source

#: Code the warm guest runs before it is forked for each evaluation.
_WARM_UP = "import harness\nharness.prepare()\n"


def warm_sandbox(memory_bytes: int = Limits().memory_bytes) -> WarmWasmSandbox:
    """Start a wasm guest that has imported the harness, to be forked per evaluation.

    Every evaluation job whose memory limit is `memory_bytes` runs in a fork of the
    started guest; other jobs run in fresh guests.
    """
    shared = {"harness.py": harness_source(), "guard.py": harness_source("guard.py")}
    return WarmWasmSandbox(shared, "harness.py", _WARM_UP, memory_bytes=memory_bytes)
