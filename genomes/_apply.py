"""Applying a genome: one pass over the original tree.

Every edit is addressed to a node of the original tree. Applying a genome
first decides, in genome order, which edits take effect. An edit is skipped
when its operator's `check` rejects it, because its address names nothing
the operator can change in this target. It is also skipped when one of the
addresses it needs lies inside a node that an earlier applied edit deleted,
replaced or moved (the operator's `removed`). Edits that keep their node,
such as operator changes, swaps and insertions, leave later edits inside
that node in force.

Then one recursive pass rebuilds only the nodes on the paths from the
module to the edited nodes, bottom-up. A node gets its rebuilt children
first. A block then gets its statement edits, and finally the node gets the
edits addressed to it, both in genome order. One edit may name several
blocks and nodes (a move touches two blocks, a speed rewrite a block and
the nodes it replaces), and each part is rewritten when the pass reaches
it. Untouched subtrees are the original node objects, so libcst generates
their text byte for byte as it was. A block that loses all its statements
gets `pass`.

An applied edit may be undone in effect by a later one: a later replacement
of a statement drops earlier edits inside it, and of two changes of the same
literal the later wins. Both still count as applied. An earlier edit at the
same address may also turn a node into another kind of node, as when
`insert_unary` wraps `a * b` in `-(...)` before `binary_operator` changes
the `*`. The pass finds such a case when the later operator's `rewrite_node`
returns None, and that edit then moves from the applied edits to the
skipped ones.

Cost: the rebuild touches the edited paths only. Generating the source
regenerates only the changed top-level statements, and compiling it to
check validity takes one pass over the whole module.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from ._address import child_address, is_within, node_fields, prefixes
from ._analysis import Analysis, Statement
from ._edit import Applied, Edit
from ._errors import GenomeError, InvalidVariant
from ._operator_base import BaseOperator, BlockSlots
from ._operators import OPERATORS

__all__ = ["apply_genome", "compile_quietly"]


#: A planned edit: its operator, its position in the genome and the edit.
_Step = tuple[BaseOperator, int, Edit]


@dataclass(frozen=True)
class _Plan:
    genome: tuple[Edit, ...]
    applied: frozenset[int]
    node_edits: dict[str, list[_Step]]
    block_edits: dict[str, list[_Step]]
    spine: frozenset[str]

    def result(self, source: str, dropped: set[int]) -> Applied:
        """Build the outcome, also skipping the edits at the positions in `dropped`."""
        kept = self.applied - dropped
        applied = [edit for i, edit in enumerate(self.genome) if i in kept]
        skipped = [edit for i, edit in enumerate(self.genome) if i not in kept]
        return Applied(source, tuple(applied), tuple(skipped))


def apply_genome(analysis: Analysis, genome: Sequence[Edit], path: str) -> Applied:
    """Apply `genome` to the analysed original.

    Raises InvalidVariant if the result does not compile.
    """
    plan = _plan(analysis, genome)
    dropped: set[int] = set()
    if not plan.applied:
        source = _generate_code(analysis.module, analysis)
        return plan.result(source, dropped)

    module = _rebuild(analysis.module, "", plan, analysis, dropped)
    assert isinstance(module, cst.Module)
    source = _generate_code(module, analysis)
    _check_compiles(source, path)
    return plan.result(source, dropped)


def _plan(analysis: Analysis, genome: Sequence[Edit]) -> _Plan:
    applied: set[int] = set()
    removed: list[str] = []
    node_edits: dict[str, list[_Step]] = {}
    block_edits: dict[str, list[_Step]] = {}

    for position, edit in enumerate(genome):
        operator = _operator_for(edit)
        needed = operator.check(analysis, edit)
        gone = needed is None or any(
            is_within(address, ancestor) for address in needed for ancestor in removed
        )
        if gone:
            continue
        applied.add(position)
        removed.extend(operator.removed(analysis, edit))
        step = (operator, position, edit)
        for block in operator.blocks(analysis, edit):
            block_edits.setdefault(block, []).append(step)
        for address in operator.node_addresses(analysis, edit):
            node_edits.setdefault(address, []).append(step)

    spine = {prefix for address in node_edits for prefix in prefixes(address)}
    spine.update(prefix for address in block_edits for prefix in prefixes(address))
    return _Plan(
        tuple(genome), frozenset(applied), node_edits, block_edits, frozenset(spine)
    )


def _operator_for(edit: Edit) -> BaseOperator:
    if not isinstance(edit, Edit):
        raise GenomeError(
            f"invalid genome entry {edit!r}; a genome contains Edit objects."
        )
    operator = OPERATORS.get(edit.operator)
    if operator is None:
        raise GenomeError(
            f"unknown operator {edit.operator!r} in edit {edit.describe()!r}; "
            f"the operators are: {', '.join(OPERATORS)}."
        )
    return operator


def _rebuild(
    node: cst.CSTNode,
    address: str,
    plan: _Plan,
    analysis: Analysis,
    dropped: set[int],
) -> cst.CSTNode:
    changes: dict[str, object] = {}
    for name in node_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            child = child_address(address, name)
            if child in plan.spine:
                changes[name] = _rebuild(value, child, plan, analysis, dropped)
        elif isinstance(value, (list, tuple)):
            items = _rebuild_items(value, address, name, plan, analysis, dropped)
            if items is not None:
                changes[name] = items

    if address in plan.block_edits:
        changes["body"] = _rewrite_block(
            node, address, changes, plan.block_edits[address], analysis
        )
    current = node.with_changes(**changes) if changes else node
    for operator, position, edit in plan.node_edits.get(address, ()):
        rewritten = operator.rewrite_node(edit, analysis, address, node, current)
        if rewritten is None:
            dropped.add(position)
        else:
            current = rewritten
    return current


def _rebuild_items(
    items: Sequence[object],
    address: str,
    name: str,
    plan: _Plan,
    analysis: Analysis,
    dropped: set[int],
) -> list[object] | None:
    rebuilt: list[object] | None = None
    for index, item in enumerate(items):
        child = child_address(address, name, index)
        if isinstance(item, cst.CSTNode) and child in plan.spine:
            if rebuilt is None:
                rebuilt = list(items)
            rebuilt[index] = _rebuild(item, child, plan, analysis, dropped)
    return rebuilt


def _rewrite_block(
    node: cst.CSTNode,
    address: str,
    changes: dict[str, object],
    edits: list[_Step],
    analysis: Analysis,
) -> list[Statement]:
    assert isinstance(node, (cst.Module, cst.IndentedBlock))
    body = changes.get("body", node.body)
    slots = BlockSlots(address, list(enumerate(body)))  # type: ignore[arg-type]
    for operator, _, edit in edits:
        operator.rewrite_block(edit, analysis, slots)

    statements = [statement for _, statement in slots.entries]
    if not statements and isinstance(node, cst.IndentedBlock):
        statements = [cst.SimpleStatementLine(body=[cst.Pass()])]
    return statements


def _generate_code(module: cst.Module, analysis: Analysis) -> str:
    """Return `module.code`, reusing the text of unchanged top-level statements.

    This repeats what `Module._codegen_impl` does in libcst 1.x: header lines,
    statements, footer lines, and a lone newline for an empty module. A module
    without a final newline takes the full code generation instead, because
    libcst then drops the last token generated, which is not visible here.
    """
    original = analysis.module
    unchanged = module.header is original.header and module.footer is original.footer
    if not original.has_trailing_newline or not unchanged:
        return module.code

    texts = analysis.cache.get("statement code")
    if texts is None:
        texts = {
            id(node): (node, original.code_for_node(node)) for node in original.body
        }
        analysis.cache["statement code"] = texts
    parts = [_lines_code(original, original.header)]
    for statement in module.body:
        known = texts.get(id(statement))
        if known is not None and known[0] is statement:
            parts.append(known[1])
        else:
            parts.append(original.code_for_node(statement))
    parts.append(_lines_code(original, original.footer))
    return "".join(parts) or original.default_newline


def _lines_code(module: cst.Module, lines: Sequence[cst.EmptyLine]) -> str:
    return "".join(module.code_for_node(line) for line in lines)


def compile_quietly(source: str, path: str) -> None:
    """Compile `source` as a module, ignoring the warnings that compiling emits.

    Raises what `compile` raises for invalid code: SyntaxError, ValueError
    (for null bytes) or RecursionError (for too deeply nested code).
    """
    # Warnings such as "invalid escape sequence" belong to the target, and
    # where warnings are errors CPython would turn them into SyntaxError.
    # NOTE: catch_warnings changes process-wide state, so this is not
    # thread-safe: apply genomes from one thread, or from separate processes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compile(source, path, "exec", dont_inherit=True)


def _check_compiles(source: str, path: str) -> None:
    try:
        compile_quietly(source, path)
    except (SyntaxError, ValueError, RecursionError) as error:
        where = ""
        if isinstance(error, SyntaxError):
            where = f" at line {error.lineno} of the variant"
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        raise InvalidVariant(
            f"applying the genome to {path} gave source that does not compile: "
            f"{message}{where}. Drop or change the edit at that line.",
            source,
        ) from error
