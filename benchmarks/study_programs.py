"""The programs of the search study: each one's target, suite and changeable functions.

Four programs come from pyperformance, prepared by examples/pyperformance/prepare.py.
Three come from the host Python's standard library: the pure-Python part of `bisect`
and `heapq`, and `textwrap`, with suites under benchmarks/study_suites/. A standard
library module is copied under the name `study_<name>` so that the guest's own
`bisect` (which the suite uses as its reference, and which `random` has already
imported) does not shadow it. Its imports of the C accelerator (`from _heapq import
*`) and its `__main__` block are cut out, so the suite exercises the Python code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import libcst.matchers as m

ROOT = Path(__file__).resolve().parent.parent
PYPERFORMANCE_DIR = ROOT / "examples" / "pyperformance"
SUITES_DIR = Path(__file__).resolve().parent / "study_suites"


@dataclass(frozen=True)
class Program:
    """One program of the study and how to write it into a scratch folder."""

    name: str
    #: The import name of the target in the guest, and the stem of its file.
    module: str
    #: Qualified names of the functions that edits may change.
    functions: tuple[str, ...]
    #: Module-level functions whose results the correctness check compares.
    compared: tuple[str, ...]
    #: "pyperformance" or "stdlib".
    origin: str


@functools.cache
def _load_prepare():
    """Import examples/pyperformance/prepare.py, which is no package."""
    spec = importlib.util.spec_from_file_location(
        "pyperformance_prepare", PYPERFORMANCE_DIR / "prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pyperformance(name: str, compared: tuple[str, ...]) -> Program:
    functions = tuple(_load_prepare().PROGRAMS[name])
    return Program(name, name, functions, compared, "pyperformance")


PROGRAMS: dict[str, Program] = {
    program.name: program
    for program in (
        _pyperformance("bm_nqueens", ("permutations", "n_queens")),
        _pyperformance("bm_fannkuch", ("fannkuch",)),
        _pyperformance("bm_float", ("maximize", "benchmark")),
        # NOTE: every changeable function of bm_richards but `schedule` is a method,
        # and the suite never calls `schedule` itself, so the correctness check
        # finds no inputs there and reports the program's bugs as unchecked.
        _pyperformance("bm_richards", ("schedule",)),
        Program(
            "bisect",
            "study_bisect",
            ("insort_right", "bisect_right", "insort_left", "bisect_left"),
            ("insort_right", "bisect_right", "insort_left", "bisect_left"),
            "stdlib",
        ),
        Program(
            "heapq",
            "study_heapq",
            (
                "heappush",
                "heappop",
                "heapreplace",
                "heappushpop",
                "heapify",
                "_siftdown",
                "_siftup",
                "nsmallest",
                "nlargest",
            ),
            (
                "heappush",
                "heappop",
                "heapreplace",
                "heappushpop",
                "heapify",
                "nsmallest",
                "nlargest",
            ),
            "stdlib",
        ),
        Program(
            "textwrap",
            "study_textwrap",
            (
                "TextWrapper._munge_whitespace",
                "TextWrapper._handle_long_word",
                "TextWrapper._wrap_chunks",
                "dedent",
                "indent",
            ),
            ("wrap", "fill", "dedent", "indent"),
            "stdlib",
        ),
    )
}

#: Programs of the speed table by default: the benchmark programs, whose suites have
#: workloads sized for a fuel measure.
SPEED_PROGRAMS = ("bm_nqueens", "bm_fannkuch", "bm_float", "bm_richards")


@dataclass(frozen=True)
class Prepared:
    """A program written into a folder: target, suite, and the target's source."""

    program: Program
    folder: Path
    target: Path
    suite: Path
    source: str

    @property
    def source_sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


def prepare_program(program: Program, dest: Path) -> Prepared:
    """Write the target and suite of `program` into `dest/<name>/` and describe them."""
    if program.origin == "pyperformance":
        folder = _load_prepare().prepare(program.name, dest)
        suite = folder / f"test_{program.module}.py"
    else:
        folder = dest / program.name
        folder.mkdir(parents=True, exist_ok=True)
        source = (
            Path(sysconfig.get_paths()["stdlib"]) / f"{program.name}.py"
        ).read_text("utf-8")
        (folder / f"{program.module}.py").write_text(
            strip_accelerators(source), "utf-8"
        )
        suite = folder / f"test_{program.module}.py"
        shutil.copyfile(SUITES_DIR / suite.name, suite)
    target = folder / f"{program.module}.py"
    return Prepared(program, folder, target, suite, target.read_text("utf-8"))


def strip_accelerators(source: str) -> str:
    """Cut the module-level `try: from _name import ...` blocks and `__main__` block.

    The standard library imports its C accelerators over the Python definitions this
    way; without the cut, the suite would test the C code.
    """
    module = cst.parse_module(source)
    kept = [statement for statement in module.body if not _is_cut(statement)]
    return module.with_changes(body=kept).code


def _is_cut(statement: cst.BaseStatement) -> bool:
    main_guard = m.If(
        test=m.Comparison(
            left=m.Name("__name__"),
            comparisons=[m.ComparisonTarget(operator=m.Equal())],
        )
    )
    if m.matches(statement, main_guard):
        return True
    if not isinstance(statement, cst.Try):
        return False
    imports = m.findall(statement.body, m.ImportFrom())
    return bool(imports) and all(
        isinstance(node.module, cst.Name) and node.module.value.startswith("_")
        for node in imports
    )
