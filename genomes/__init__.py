"""Genomes: edits to a target's libcst tree, applying them, identity and diffs.

A genome is a tuple of `Edit`s, each addressed to a node of the original
tree of a `Target`. `Target.apply` turns a genome into a variant's source,
`source_hash` gives the variant's identity, and `unified_diff` the patch
that a person reviews.
"""

from ._diff import unified_diff
from ._edit import Applied, Edit, Genome
from ._errors import GenomeError, InvalidVariant, TargetError
from ._identity import normalise_source, source_hash
from ._operator_base import BaseNodeOperator, BaseOperator, BaseStatementOperator
from ._operators import OPERATORS
from ._target import Target

__all__ = [
    "OPERATORS",
    "Applied",
    "BaseNodeOperator",
    "BaseOperator",
    "BaseStatementOperator",
    "Edit",
    "Genome",
    "GenomeError",
    "InvalidVariant",
    "Target",
    "TargetError",
    "normalise_source",
    "source_hash",
    "unified_diff",
]
