"""Operators on real standard-library modules: validity, locality, restriction."""

from __future__ import annotations

import ast
import bisect
import heapq
import random
import re
import textwrap
from collections import Counter

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libcst.metadata import (
    MetadataWrapper,
    PositionProvider,
    WhitespaceInclusivePositionProvider,
)

from genomes import OPERATORS, Edit, InvalidVariant, Target
from genomes._apply import _plan, _rebuild

#: Operators that copy ingredients have one site per statement and ingredient,
#: tens of thousands per module, so tests sample them instead of trying all.
COPY_OPERATORS = ("insert_statement", "replace_statement")
#: The share of single-edit variants allowed to fail to compile. The analysis
#: only offers copies whose scope fits, and none failed on these modules when
#: this was written, so anything above 1% means a regression.
MAX_INVALID_SHARE = 0.01
MODULES = {"bisect": bisect, "heapq": heapq, "textwrap": textwrap}

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
        if edit.operator == "insert_statement":
            first, _ = self.statement_lines(edit.location)
            return first, first - 1
        if edit.operator == "swap_statements":
            first, _ = self.statement_lines(edit.location)
            _, last = self.statement_lines(edit.argument)
            return first, last
        if edit.operator in ("delete_statement", "replace_statement"):
            return self.statement_lines(edit.location)
        span = self.positions[self.node(edit.location)]
        return span.start.line, span.end.line

    def check_single_edit(self, edit: Edit) -> bool:
        """Apply `edit`, check that only its lines changed, and tell if it compiled."""
        try:
            applied = self.target.apply([edit])
        except InvalidVariant:
            return False
        ast.parse(applied.source)
        assert applied.applied == (edit,)
        assert applied.source != self.target.source, edit.describe()

        lines = applied.source.split("\n")
        first, last = self.changed_lines(edit)
        assert lines[: first - 1] == self.lines[: first - 1], edit.describe()
        tail = self.lines[last:]
        assert lines[len(lines) - len(tail) :] == tail, edit.describe()
        return True


@pytest.fixture(scope="module", params=sorted(MODULES))
def original(request) -> Original:
    return Original(Target.from_file(MODULES[request.param].__file__))


def edits_to_check(target: Target, exhaustive: bool, sample: int) -> list[Edit]:
    """Return every site (or, for copies and when not exhaustive, a fixed sample)."""
    rng = random.Random(1)
    edits = []
    for name in OPERATORS:
        sites = target.sites(name)
        if exhaustive and name not in COPY_OPERATORS:
            edits.extend(sites)
        else:
            edits.extend(rng.sample(sites, min(sample, len(sites))))
    return edits


def check_all(original: Original, edits: list[Edit]) -> Counter:
    invalid: Counter = Counter()
    for edit in edits:
        if not original.check_single_edit(edit):
            invalid[edit.operator] += 1
    assert sum(invalid.values()) <= MAX_INVALID_SHARE * len(edits), invalid
    return invalid


def test_single_edits_compile(original):
    small = original.target.module_name == "bisect"
    edits = edits_to_check(original.target, exhaustive=small, sample=25)
    assert len({edit.operator for edit in edits}) == len(OPERATORS)
    check_all(original, edits)


@pytest.mark.slow
def test_every_single_edit_compiles(original):
    check_all(original, edits_to_check(original.target, exhaustive=True, sample=400))


@pytest.mark.parametrize("function", ["dedent", "TextWrapper._wrap_chunks"])
def test_restriction_keeps_other_lines(function):
    target = Target.from_file(textwrap.__file__, functions=[function])
    view = Original(target)
    body = _function_bodies(view.module, function)
    assert len(body) == 1
    span = view.positions[body[0]]
    first, last = span.start.line, span.end.line

    edits = edits_to_check(target, exhaustive=True, sample=40)
    assert edits
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
@given(rng=st.randoms(use_true_random=False), size=st.integers(1, 6))
def test_genomes_on_heapq(rng, size):
    target = _heapq_target()
    genome = [target.random_edit(rng) for _ in range(size)]
    try:
        first = target.apply(genome)
    except InvalidVariant:
        with pytest.raises(InvalidVariant):
            target.apply(genome)
        return

    assert target.apply(genome) == first
    # Skipped edits have no effect, so the applied ones alone give the same.
    again = target.apply(first.applied)
    assert again.source == first.source
    assert again.skipped == ()
    # Reusing the text of unchanged statements must match full generation.
    analysis = target._analysis
    assert (
        _rebuild(analysis.module, "", _plan(analysis, genome), analysis).code
        == first.source
    )


_HEAPQ: list[Target] = []


def _heapq_target() -> Target:
    if not _HEAPQ:
        _HEAPQ.append(Target.from_file(heapq.__file__))
    return _HEAPQ[0]
