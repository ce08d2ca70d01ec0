"""Genomes: edits to a target's libcst tree, applying them, identity and diffs.

A genome is a tuple of `Edit`s, each addressed to a node of the original
tree of a `Target`. `OPERATORS` makes the edits (`Target.random_edit` draws
one, optionally weighted by operator, see `validate_weights`, and by line,
see `LocationWeights`), `Target.apply` turns a genome into a variant's
source, `crossover` recombines two genomes,
`minimise` drops the edits that do not contribute, `source_hash` gives the
variant's identity, and `unified_diff` the patch that a person reviews.
"""

from ._crossover import CROSSOVERS, crossover
from ._diff import unified_diff
from ._edit import Applied, Edit, Genome
from ._errors import GenomeError, InvalidVariant, TargetError
from ._identity import normalise_source, source_hash
from ._locations import LocationWeights
from ._minimise import Minimised, minimise
from ._operator_base import (
    LEVELS,
    BaseNodeOperator,
    BaseOperator,
    BaseStatementOperator,
    BlockSlots,
)
from ._operators import OPERATORS
from ._target import Target
from ._weights import validate_weights

__all__ = [
    "CROSSOVERS",
    "LEVELS",
    "OPERATORS",
    "Applied",
    "BaseNodeOperator",
    "BaseOperator",
    "BaseStatementOperator",
    "BlockSlots",
    "Edit",
    "Genome",
    "GenomeError",
    "InvalidVariant",
    "LocationWeights",
    "Minimised",
    "Target",
    "TargetError",
    "crossover",
    "minimise",
    "normalise_source",
    "source_hash",
    "unified_diff",
    "validate_weights",
]
