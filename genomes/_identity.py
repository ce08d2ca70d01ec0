"""The identity of a variant: its source with formatting and comments removed."""

from __future__ import annotations

import ast
import hashlib
import warnings

from ._errors import GenomeError

__all__ = ["normalise_source", "source_hash"]


def normalise_source(source: str) -> str:
    """Return the canonical text of `source`: `ast.unparse` of its syntax tree.

    Comments, blank lines, line breaks inside brackets, redundant parentheses
    and quote styles do not change the result. Docstrings and every other
    part of the program do. The text depends on the running Python's `ast`
    module, so compare results from the same Python minor version.
    Raises GenomeError when `source` is not valid Python.
    """
    try:
        # ast.parse may warn about the target's own code (invalid escapes),
        # and such warnings do not affect identity.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        raise GenomeError(
            f"cannot normalise source that is not valid Python: {error}. "
            "Pass the text of a module that parses."
        ) from error
    return ast.unparse(tree)


def source_hash(source: str) -> str:
    """Return the SHA-256 hex digest of `normalise_source(source)`.

    Two variants have the same hash exactly when their normalised sources are
    equal, whatever genomes produced them.
    """
    return hashlib.sha256(normalise_source(source).encode("utf-8")).hexdigest()
