"""Operators on standard-library modules: validity, locality, patches, restriction."""

from __future__ import annotations

import ast
import bisect
import csv
import heapq
import random
import re
import subprocess
import tabnanny
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libcst.metadata import (
    MetadataWrapper,
    PositionProvider,
    WhitespaceInclusivePositionProvider,
)

from genomes import OPERATORS, Edit, InvalidVariant, Target, unified_diff
from genomes._address import is_within
from genomes._apply import _plan, _rebuild

#: The share of single-edit variants allowed to fail to compile. The analysis
#: only offers edits that fit their scope, and none failed on these modules
#: when this was written, so anything above 1% means a regression.
MAX_INVALID_SHARE = 0.01
#: Standard-library modules that, with `PATTERNS`, give every operator sites.
MODULES = {
    "bisect": bisect,
    "heapq": heapq,
    "textwrap": textwrap,
    "csv": csv,
    "tabnanny": tabnanny,
}
#: Code with the loop shapes that the standard library rarely has, because
#: its authors already wrote comprehensions and sets.
PATTERNS = '''\
import math


def unique_squares(values, limit):
    seen = []
    squares = []
    for value in values:
        if value not in seen and value < limit * 2.5:
            seen.append(value)
            squares.append(value * value)
    return squares


def norms(points):
    result = []
    for x, y in points:
        result.append(math.sqrt(x * x + y * y))
    return result
'''
#: Operators with more sites than this are sampled instead of tried one by one.
LIMIT = 40

#: Operators with more sites than this give a sample to the stacked genomes.
#: The operators that change one symbol stay below it on these modules, so
#: their every site can meet the edit that wraps or replaces its node.
POOL_LIMIT = 1000

FEW = settings(max_examples=25, deadline=None, database=None)


class Original:
    """A target with an independent view of its original tree, for checking edits."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.lines = target.source.split("\n")
        self.module = cst.parse_module(target.source)
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self.positions = wrapper.resolve(PositionProvider)
        self.inclusive = wrapper.resolve(WhitespaceInclusivePositionProvider)

    def node(self, address: str) -> cst.CSTNode:
        node = self.module
        for step in address.split(".") if address else ():
            match = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", step)
            assert match, address
            node = getattr(node, match.group(1))
            if match.group(2) is not None:
                node = node[int(match.group(2))]
        return node

    def statement_lines(self, address: str) -> tuple[int, int]:
        """Return the first and last line of a statement, with the comments above it."""
        span = self.inclusive[self.node(address)]
        return span.start.line, span.end.line - 1

    def changed_lines(self, edit: Edit) -> tuple[int, int]:
        """Return the original lines an edit may change (`last < first`: insert)."""
        operator = edit.operator
        if operator in ("insert_statement", "insert_jump"):
            first, _ = self.statement_lines(edit.location)
            return first, first - 1
        if operator == "insert_statement_after":
            _, last = self.statement_lines(edit.location)
            return last + 1, last
        if operator == "swap_statements":
            first, _ = self.statement_lines(edit.location)
            _, last = self.statement_lines(edit.argument)
            return first, last
        if operator in ("delete_statement", "replace_statement"):
            return self.statement_lines(edit.location)
        if operator == "move_statement":
            return self.move_lines(edit)
        if OPERATORS[operator].level == "speed":
            needed = OPERATORS[operator].check(self.target._analysis, edit)
            spans = [self.statement_lines(address) for address in needed]
            return min(first for first, _ in spans), max(last for _, last in spans)
        span = self.positions[self.node(edit.location)]
        return span.start.line, span.end.line

    def move_lines(self, edit: Edit) -> tuple[int, int]:
        first, last = self.statement_lines(edit.location)
        destination, where = edit.argument
        start, end = self.statement_lines(destination)
        place = start if where == "before" else end + 1
        return min(first, place), max(last, place - 1)

    def check_single_edit(self, edit: Edit) -> bool:
        """Apply `edit`, check that only its lines changed, and tell if it compiled."""
        try:
            applied = self.target.apply([edit])
        except InvalidVariant:
            return False
        ast.parse(applied.source)
        assert applied.applied == (edit,), edit.describe()
        assert applied.source != self.target.source, edit.describe()

        lines = applied.source.split("\n")
        first, last = self.changed_lines(edit)
        assert lines[: first - 1] == self.lines[: first - 1], edit.describe()
        tail = self.lines[last:]
        assert lines[len(lines) - len(tail) :] == tail, edit.describe()
        return True


def load(name: str) -> Target:
    if name == "patterns":
        return Target.from_source(PATTERNS, path="patterns.py")
    return Target.from_file(MODULES[name].__file__)


@pytest.fixture(scope="module", params=[*sorted(MODULES), "patterns"])
def original(request) -> Original:
    return Original(load(request.param))


def edits_to_check(target: Target, limit: int) -> list[Edit]:
    """Return every site of each operator with few, or a fixed sample of `limit`."""
    rng = random.Random(1)
    edits = []
    for operator in OPERATORS.values():
        count = operator.count(target)
        if count <= limit:
            edits.extend(operator.sites(target))
        else:
            edits.extend(operator.sample(target, rng) for _ in range(limit))
    return edits


def check_all(original: Original, edits: list[Edit]) -> Counter:
    invalid: Counter = Counter()
    for edit in edits:
        if not original.check_single_edit(edit):
            invalid[edit.operator] += 1
    assert sum(invalid.values()) <= MAX_INVALID_SHARE * len(edits), invalid
    return invalid


def test_corpus_covers_every_operator():
    missing = set(OPERATORS)
    for name in [*MODULES, "patterns"]:
        target = load(name)
        missing -= {name for name, op in OPERATORS.items() if op.count(target)}
    assert missing == set()


def test_single_edits_compile(original):
    limit = LIMIT if original.target.module_name in ("bisect", "patterns") else 8
    check_all(original, edits_to_check(original.target, limit))


@pytest.mark.slow
def test_every_single_edit_compiles(original):
    check_all(original, edits_to_check(original.target, limit=400))


@pytest.mark.parametrize("function", ["dedent", "TextWrapper._wrap_chunks"])
def test_restriction_keeps_other_lines(function):
    target = Target.from_file(textwrap.__file__, functions=[function])
    view = Original(target)
    body = _function_bodies(view.module, function)
    assert len(body) == 1
    span = view.positions[body[0]]
    first, last = span.start.line, span.end.line

    edits = edits_to_check(target, limit=10)
    assert {edit.operator for edit in edits} >= {"bind_local", "move_statement"}
    for edit in edits:
        edit_first, edit_last = view.changed_lines(edit)
        assert first <= edit_first, edit.describe()
        assert edit_last <= last, edit.describe()
        source = target.apply([edit]).source.split("\n")
        assert source[: first - 1] == view.lines[: first - 1], edit.describe()
        tail = view.lines[last:]
        assert source[len(source) - len(tail) :] == tail, edit.describe()


def _function_bodies(module: cst.Module, qualname: str) -> list[cst.BaseSuite]:
    found = []

    class Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.stack: list[str] = []

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.stack.append(node.name.value)

        def leave_ClassDef(self, node: cst.ClassDef) -> None:
            self.stack.pop()

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if ".".join([*self.stack, node.name.value]) == qualname:
                found.append(node.body)
            self.stack.append(node.name.value + ".<locals>")

        def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.stack.pop()

    module.visit(Finder())
    return found


@FEW
@given(
    name=st.sampled_from(["heapq", "csv", "patterns"]),
    rng=st.randoms(use_true_random=False),
    size=st.integers(1, 8),
)
def test_genomes_apply_consistently(name, rng, size):
    target = _cached(name)
    genome = [target.random_edit(rng) for _ in range(size)]
    try:
        first = target.apply(genome)
    except InvalidVariant:
        with pytest.raises(InvalidVariant):
            target.apply(genome)
        return

    assert target.apply(genome) == first
    ast.parse(first.source)
    # Skipped edits have no effect, so the applied ones alone give the same.
    again = target.apply(first.applied)
    assert again.source == first.source
    assert again.skipped == ()
    # Reusing the text of unchanged statements must match full generation.
    analysis = target._analysis
    assert (
        _rebuild(analysis.module, "", _plan(analysis, genome), analysis, set()).code
        == first.source
    )


@settings(max_examples=60, deadline=None, database=None)
@given(
    name=st.sampled_from(["heapq", "csv", "patterns"]),
    rng=st.randoms(use_true_random=False),
    size=st.integers(2, 6),
)
def test_stacked_edits_raise_only_invalid(name, rng, size):
    # Edits drawn at random rarely share a node, so these genomes stack edits
    # at a node that several operators change and at the nodes around it.
    # There an earlier edit may change or remove the node a later one names.
    target = _cached(name)
    pool = _edit_pool(name)
    location = rng.choice(_shared_locations(name))
    same = [edit for edit in pool if edit.location == location]
    near = [
        edit
        for edit in pool
        if is_within(edit.location, location) or is_within(location, edit.location)
    ]
    genome = [rng.choice(same if i % 2 else near) for i in range(size)]

    try:
        result = target.apply(genome)
    except InvalidVariant:
        return
    assert sorted(map(repr, result.applied + result.skipped)) == sorted(
        map(repr, genome)
    )
    assert target.apply(result.applied).source == result.source


@settings(max_examples=8, deadline=None, database=None)
@given(
    name=st.sampled_from(["textwrap", "csv", "patterns"]),
    rng=st.randoms(use_true_random=False),
    size=st.integers(1, 4),
)
def test_git_applies_variant_diff(name, rng, size):
    target = _cached(name)
    genome = [target.random_edit(rng) for _ in range(size)]
    try:
        variant = target.apply(genome).source
    except InvalidVariant:
        return
    patch = unified_diff(target.source, variant, f"lib/{name}.py")
    if not patch:
        # Edits can cancel out, such as two swaps of the same statements.
        assert variant == target.source
        return

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        path = root / "lib" / f"{name}.py"
        path.parent.mkdir()
        path.write_bytes(target.source.encode("utf-8"))
        (root / "change.patch").write_bytes(patch.encode("utf-8"))
        result = subprocess.run(
            ["git", "apply", "change.patch"], cwd=root, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert path.read_bytes().decode("utf-8") == variant


_TARGETS: dict[str, Target] = {}
_POOLS: dict[str, list[Edit]] = {}


def _cached(name: str) -> Target:
    if name not in _TARGETS:
        _TARGETS[name] = load(name)
    return _TARGETS[name]


def _edit_pool(name: str) -> list[Edit]:
    if name not in _POOLS:
        _POOLS[name] = edits_to_check(_cached(name), POOL_LIMIT)
    return _POOLS[name]


def _shared_locations(name: str) -> list[str]:
    """Return the locations that edits of two or more operators in the pool name."""
    operators: dict[str, set[str]] = {}
    for edit in _edit_pool(name):
        operators.setdefault(edit.location, set()).add(edit.operator)
    return sorted(location for location, names in operators.items() if len(names) > 1)
