"""Fast checks of the search study's plumbing in benchmarks/: flags, programs, corpus.

The study itself and its quality figures are in tests/test_quality.py (slow).
"""

import ast
import sys
import sysconfig
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import search_study
from study_corpus import draw_bug_edits
from study_programs import PROGRAMS, prepare_program, strip_accelerators
from study_runs import known_flags, missing_flags


def stdlib_source(name):
    return (Path(sysconfig.get_paths()["stdlib"]) / f"{name}.py").read_text("utf-8")


def imported_modules(source):
    tree = ast.parse(source)
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_missing_flags_ignores_values():
    known = frozenset({"--crossover", "--seed"})

    assert missing_flags(("--crossover", "uniform"), known) == []
    assert missing_flags(("--selection", "nsga2", "--seed"), known) == ["--selection"]


def test_known_flags_reads_run_help():
    flags = known_flags()

    assert "--crossover" in flags
    assert "--run-dir" in flags
    assert "--json" in flags


def test_select_strategies_splits_by_flags():
    known = frozenset({"--crossover"})

    runnable, skipped = search_study.select_strategies(["one_point", "nsga2"], known)

    assert runnable == ["one_point"]
    assert skipped == {"nsga2": ["--selection", "--no-adapt-operators"]}


def test_strip_accelerators_cuts_c_imports():
    stripped = strip_accelerators(stdlib_source("heapq"))

    assert "_heapq" not in imported_modules(stripped)
    assert 'if __name__ == "__main__"' not in stripped
    assert "def heappush(heap, item):" in stripped


def test_strip_accelerators_keeps_plain_try():
    source = "try:\n    import json\nexcept ImportError:\n    json = None\n"

    assert strip_accelerators(source) == source


def test_prepare_stdlib_program_names_module(tmp_path):
    prepared = prepare_program(PROGRAMS["bisect"], tmp_path)

    assert prepared.target.name == "study_bisect.py"
    assert prepared.suite.read_text("utf-8").count("from study_bisect import") == 1
    assert "_bisect" not in imported_modules(prepared.source)


def test_bug_edits_repeat_for_seed(tmp_path):
    prepared = prepare_program(PROGRAMS["bisect"], tmp_path)

    first = [(attempt, edit) for attempt, edit, _ in draw_bug_edits(prepared, 5, 6)]
    second = [(attempt, edit) for attempt, edit, _ in draw_bug_edits(prepared, 5, 6)]
    other = [(attempt, edit) for attempt, edit, _ in draw_bug_edits(prepared, 6, 6)]

    assert first
    assert first == second
    assert first != other
