"""Bytecode for the job files that many jobs carry unchanged.

Every evaluation job carries the harness and its guard, and a fresh wasm guest that
compiles them from source spends about 220 million instructions on it, a quarter of
what importing hypothesis costs. A job names such files in `Job.cached`. The wasm
backend compiles each one once, in a trusted guest run, into hash-checked bytecode
(PEP 552). It puts the bytecode where the guest's import system looks for that of
`/job/NAME`, below the bytecode folder that every guest mounts read-only as `/pyc`.

The guest still reads the source, and uses the bytecode only when the source's hash
is the one recorded in it. So bytecode that is stale, or that another process replaced
with bytecode of another version, costs the compile it was meant to save. Bytecode
whose recorded hash matches but whose code differs would run, so the folder is as
trusted as the rest of the cache: guests see it read-only, and only the user who runs
evolver can write to it.

Python never reads bytecode for the script it is started with, so a cached entry
script is started through the import system instead (`RUN_FROM_BYTECODE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

try:
    from _imp import source_hash
except ImportError:  # an interpreter without it treats all bytecode as stale
    source_hash = None

#: Guest code that compiles the job files named in its arguments, found below `/job`,
#: into hash-checked bytecode below `/out`, laid out as below the prefix `/pyc`.
COMPILE_SCRIPT = """\
import importlib.util, py_compile, sys
sys.pycache_prefix = '/out'
for name in sys.argv[1:]:
    path = '/job/' + name
    py_compile.compile(
        path,
        cfile=importlib.util.cache_from_source(path),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
"""

#: Guest code, run with `-c`, that runs the script named by its first argument as
#: `__main__` through the import system, which reads its cached bytecode. The script
#: gets the `sys.argv`, `sys.path[0]`, `__name__` and `__file__` that Python gives a
#: script it starts directly.
RUN_FROM_BYTECODE = """\
import sys, _frozen_importlib as bootstrap, _frozen_importlib_external as external
del sys.argv[0]
sys.path[0] = sys.argv[0].rpartition('/')[0]
spec = external.spec_from_file_location(
    '__main__', sys.argv[0], loader=external.SourceFileLoader('__main__', sys.argv[0])
)
main = bootstrap.module_from_spec(spec)
sys.modules['__main__'] = main
del bootstrap, external
spec.loader.exec_module(main)
"""

#: The flags of hash-based bytecode whose source the importer checks (PEP 552).
_CHECKED_HASH_FLAGS = 0b11


def cached_sources(files: Mapping[str, bytes], names: tuple[str, ...]) -> dict[str, bytes]:
    """Return the Python files among `names` that the job carries, with their sources."""
    return {name: files[name] for name in names if name.endswith(".py") and name in files}


def is_current(bytecode: Path, name: str, source: bytes) -> bool:
    """Return whether `bytecode` contains bytecode of `source` for the job file `name`."""
    if source_hash is None:
        return False
    relative = Path("job") / name
    folder = bytecode / relative.parent
    for path in folder.glob(f"{relative.stem}.*.pyc"):
        try:
            with open(path, "rb") as handle:
                header = handle.read(16)
        except OSError:
            continue
        if len(header) < 16 or int.from_bytes(header[4:8], "little") != _CHECKED_HASH_FLAGS:
            continue
        if header[8:16] == source_hash(int.from_bytes(header[:4], "little"), source):
            return True
    return False
