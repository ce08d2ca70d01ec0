"""Addresses of nodes in a libcst tree.

An address is the path from the module to a node, written as steps joined by
dots. A step is a field name of the libcst node class (`body`, `orelse`,
`value`, `left`), with `[i]` appended when the field contains a sequence. The
module itself is the empty address. For example `body[3].body.body[0]` is the
first statement in the indented block of the module's fourth statement.

Field names come from libcst's dataclass fields, so the same source parsed by
the same libcst version always gives the same addresses. Addresses are only
ever resolved against the original tree of a target, never against a variant.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import libcst as cst

__all__ = [
    "child_address",
    "is_within",
    "node_fields",
    "prefixes",
    "split_statement_address",
]

_LAST_INDEX = re.compile(r"(?:^|\.)body\[(\d+)\]$")


def child_address(parent: str, field: str, index: int | None = None) -> str:
    """Return the address of the child in `field` (at `index` for sequences)."""
    step = field if index is None else f"{field}[{index}]"
    return f"{parent}.{step}" if parent else step


def prefixes(address: str) -> list[str]:
    """Return the addresses of the node's ancestors, the module first, then itself."""
    result = [""]
    if address:
        steps = address.split(".")
        result.extend(".".join(steps[: i + 1]) for i in range(len(steps)))
    return result


def is_within(address: str, ancestor: str) -> bool:
    """Tell whether `address` is `ancestor` or lies inside the node it names."""
    return not ancestor or address == ancestor or address.startswith(ancestor + ".")


def split_statement_address(address: str) -> tuple[str, int] | None:
    """Split `....body[i]` into the address of its block and `i`, or return None."""
    match = _LAST_INDEX.search(address)
    if match is None:
        return None
    return address[: match.start()], int(match.group(1))


@functools.cache
def node_fields(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    """Return the names of the dataclass fields of a libcst node class, in order."""
    return tuple(field.name for field in dataclasses.fields(node_type))
