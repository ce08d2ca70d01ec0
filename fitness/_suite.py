"""Loading and checking a suite on the host, before anything runs."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


class SuiteError(ValueError):
    """A suite file is missing, does not parse or defines no tests."""


@dataclass(frozen=True)
class Suite:
    """A fitness definition: `test_*` functions and `bench_*` workloads in one file."""

    path: Path
    source: str
    tests: tuple[str, ...]
    benchmarks: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return self.path.name

    @classmethod
    def from_file(cls, path: str | Path) -> Suite:
        path = Path(path)
        if not path.is_file():
            raise SuiteError(
                f"The suite file {path} does not exist. Give the path of a Python file "
                "with test_* functions, with --suite or the suite key."
            )
        source = path.read_text(encoding="utf-8")
        return cls.from_source(source, path)

    @classmethod
    def from_source(cls, source: str, path: str | Path = "test_target.py") -> Suite:
        path = Path(path)
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as error:
            raise SuiteError(
                f"The suite file {path} is not valid Python: {error.msg} at line "
                f"{error.lineno}. Fix the suite before starting a run."
            ) from error
        names = [
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        tests = tuple(_unique(name for name in names if name.startswith("test_")))
        benchmarks = tuple(_unique(name for name in names if name.startswith("bench_")))
        if not tests:
            raise SuiteError(
                f"The suite file {path} defines no test_* function at its top level. "
                "Add at least one test that checks the target's behaviour."
            )
        return cls(path=path, source=source, tests=tests, benchmarks=benchmarks)


def _unique(names):
    # A later definition of the same name replaces the earlier one, as at import time.
    seen: dict[str, None] = {}
    for name in names:
        seen.pop(name, None)
        seen[name] = None
    return list(seen)
