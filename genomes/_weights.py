"""Operator weights: how often `Target.random_edit` draws each operator."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from ._errors import GenomeError
from ._operators import OPERATORS

__all__ = ["validate_weights"]

#: The weight of an operator that a weights mapping does not name.
DEFAULT_WEIGHT = 1.0


def validate_weights(weights: Mapping[str, Any]) -> dict[str, float]:
    """Check a mapping of operator name to weight and return a weight for each operator.

    Weights are non-negative finite numbers; 0 disables an operator, and an
    operator the mapping does not name keeps weight 1. Raises GenomeError
    naming the key for an unknown operator name (with the known names), a
    value that is not a number, a negative or non-finite value, or a mapping
    that disables every operator.
    """
    if not isinstance(weights, Mapping):
        raise GenomeError(
            f"operator weights must be a mapping of operator name to number, got "
            f"{type(weights).__name__}: {weights!r}."
        )
    for name, value in weights.items():
        _check_name(name)
        _check_value(name, value)

    result = {name: float(weights.get(name, DEFAULT_WEIGHT)) for name in OPERATORS}
    if not any(result.values()):
        raise GenomeError(
            "operator weights disable every operator; give at least one operator a "
            "weight above 0."
        )
    return result


def _check_name(name: object) -> None:
    if name in OPERATORS:
        return
    close = difflib.get_close_matches(str(name), list(OPERATORS), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise GenomeError(
        f"unknown operator {name!r} in operator weights; {hint}the operators are: "
        f"{', '.join(OPERATORS)}."
    )


def _check_value(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GenomeError(
            f"the weight of operator {name!r} must be a number, got {value!r}; "
            "use 0 to disable it or a positive number such as 1 or 2.5."
        )
    if not math.isfinite(value) or value < 0:
        raise GenomeError(
            f"the weight of operator {name!r} must be a finite number of 0 or more, "
            f"got {value!r}; use 0 to disable it."
        )
