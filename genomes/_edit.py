"""Edits, genomes and the result of applying a genome."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import GenomeError

__all__ = ["Applied", "Edit", "Genome"]

#: Keys that `Edit.to_json` writes; `from_json` rejects any other key so that a
#: misspelt field in an archive is reported instead of silently dropped.
_JSON_KEYS = frozenset({"operator", "location", "argument", "line", "summary"})


@dataclass(frozen=True)
class Edit:
    """One change addressed to a node of the original tree of a target.

    `operator` names an entry of `OPERATORS`, `location` is the address of the
    node it changes and `argument` is JSON data whose meaning the operator
    defines (an ingredient's address, a new operator symbol, a new integer).
    `line` and `summary` only serve `describe`, so they take no part in
    equality or hashing: two edits that make the same change are equal.
    """

    operator: str
    location: str
    argument: Any = None
    line: int | None = field(default=None, compare=False)
    summary: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        """Convert to a dict that `json.dumps` accepts and `from_json` reads back."""
        data: dict[str, Any] = {
            "operator": self.operator,
            "location": self.location,
            "argument": _argument_to_json(self.argument),
        }
        if self.line is not None:
            data["line"] = self.line
        if self.summary:
            data["summary"] = self.summary
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Edit:
        """Build an edit from the output of `to_json`.

        Raises GenomeError naming the key when a key is unknown or missing, or
        when a value has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise GenomeError(
                f"an edit must be a JSON object, got {type(data).__name__}: {data!r}."
            )
        unknown = sorted(set(data) - _JSON_KEYS)
        if unknown:
            raise GenomeError(
                f"unknown key(s) {unknown} in edit {dict(data)!r}; "
                f"the keys are {sorted(_JSON_KEYS)}."
            )
        operator = _require_string(data, "operator")
        location = _require_string(data, "location")
        line = data.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise GenomeError(
                f"edit key 'line' must be an integer or null, got {line!r}."
            )
        summary = data.get("summary", "")
        if not isinstance(summary, str):
            raise GenomeError(f"edit key 'summary' must be a string, got {summary!r}.")
        argument = _argument_from_json(data.get("argument"))

        return cls(operator, location, argument, line=line, summary=summary)

    def describe(self) -> str:
        """Describe the edit in one line, e.g. `binary_operator at line 12: + -> -`."""
        where = f"line {self.line}" if self.line is not None else self.location
        change = self.summary or repr(self.argument)
        return f"{self.operator} at {where}: {change}"


#: A genome is the ordered edits that turn the original target into a variant.
Genome = tuple[Edit, ...]


@dataclass(frozen=True)
class Applied:
    """The outcome of applying a genome to a target."""

    source: str
    applied: tuple[Edit, ...]
    skipped: tuple[Edit, ...]


def _require_string(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise GenomeError(
            f"edit key {key!r} must be a non-empty string, got {value!r}."
        )
    return value


def _argument_to_json(argument: Any) -> Any:
    if isinstance(argument, tuple):
        return [_argument_to_json(item) for item in argument]
    return argument


def _argument_from_json(argument: Any) -> Any:
    """Check that `argument` is JSON data that can be hashed, turning lists into tuples.

    Objects are rejected because an edit must be hashable to be used in sets
    and as a dict key.
    """
    if argument is None or isinstance(argument, (bool, int, str)):
        return argument
    if isinstance(argument, float):
        if not math.isfinite(argument):
            raise GenomeError(f"edit argument {argument!r} is not a finite number.")
        return argument
    if isinstance(argument, (list, tuple)):
        return tuple(_argument_from_json(item) for item in argument)
    raise GenomeError(
        f"edit argument {argument!r} must be null, a boolean, a number, a string "
        "or a list of those."
    )
