"""Records of runs and candidates, and their conversion to and from table rows.

Dicts and lists are stored as JSON text written by Python's `json` module. It
writes float infinities and NaN as the tokens `Infinity` and `NaN`, which
Python reads back but strict JSON parsers (SQLite's `json_*` functions among
them) reject. Tuples come back as lists and non-string dict keys as strings,
as with any JSON round trip.

`cost` is a REAL column. SQLite stores IEEE infinities as they are, so
`float("inf")` comes back as `inf`, but it turns NaN into NULL, so a NaN cost
is rejected rather than silently read back as `None`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ._errors import ArchiveError

__all__ = [
    "CANDIDATE_COLUMNS",
    "RUN_COLUMNS",
    "RUN_STATUSES",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "CandidateRecord",
    "RunRecord",
    "VerdictRecord",
    "candidate_from_row",
    "candidate_to_row",
    "check_status",
    "check_verdict",
    "encode_json",
    "run_from_row",
    "verdict_from_row",
]

#: Every status a run can have. A run starts as "running", and
#: `Archive.finish_run` sets any of them later.
RUN_STATUSES: Final = ("running", "finished", "failed", "interrupted")

#: Every verdict of the canary gate, best first. Only "pass" may be promoted.
VERDICTS: Final = ("pass", "marginal", "fail")

#: Column order of `RunRecord` rows, matching the dataclass field order.
RUN_COLUMNS: Final = (
    "run_id, created, status, target_path, target_source, seed, config, summary"
)

#: Column order of `CandidateRecord` rows, matching the dataclass field order.
CANDIDATE_COLUMNS: Final = (
    "candidate_id, run_id, generation, source_hash, source, genome, parents,"
    " operator, outcome, failures, cost, edits, detail, created"
)

#: Column order of `VerdictRecord` rows, matching the dataclass field order.
VERDICT_COLUMNS: Final = "run_id, candidate_id, verdict, checks, promoted, created"


@dataclass(frozen=True)
class RunRecord:
    """One evolution run: its target, seed and configuration, and how it ended."""

    run_id: str
    created: float
    status: str
    target_path: str
    target_source: str
    seed: int
    config: dict
    summary: dict


@dataclass(frozen=True)
class CandidateRecord:
    """One evaluated candidate of a run, with its lineage and fitness.

    `created` is a unix time. Left at 0.0, it is set to the time the
    candidate's generation is written.
    """

    candidate_id: str
    run_id: str
    generation: int
    source_hash: str
    source: str
    genome: list
    parents: tuple[str, ...]
    operator: str
    outcome: str
    failures: int | None
    cost: float | None
    edits: int
    detail: dict
    created: float = 0.0


@dataclass(frozen=True)
class VerdictRecord:
    """The canary gate's verdict on one candidate of a run.

    `checks` maps each check's name to its status and figures, as the gate
    reported them. `created` is a unix time.
    """

    run_id: str
    candidate_id: str
    verdict: str
    checks: dict
    promoted: bool
    created: float


def check_status(status: str) -> None:
    """Raise ArchiveError unless `status` is one of RUN_STATUSES."""
    if status not in RUN_STATUSES:
        allowed = ", ".join(repr(name) for name in RUN_STATUSES)
        msg = f"run status {status!r} is invalid. Use one of {allowed}."
        raise ArchiveError(msg)


def check_verdict(verdict: str, promoted: bool) -> None:
    """Raise ArchiveError unless `verdict` is one of VERDICTS and may be `promoted`."""
    if verdict not in VERDICTS:
        allowed = ", ".join(repr(name) for name in VERDICTS)
        msg = f"verdict {verdict!r} is invalid. Use one of {allowed}."
        raise ArchiveError(msg)
    if not isinstance(promoted, bool):
        msg = f"promoted must be True or False, not {promoted!r}."
        raise ArchiveError(msg)
    if promoted and verdict != "pass":
        msg = (
            f"a candidate with verdict {verdict!r} cannot be promoted. Only a"
            " 'pass' verdict promotes; store it with promoted=False."
        )
        raise ArchiveError(msg)


def encode_json(value: Any, *, field: str, owner: str, kind: type) -> str:
    """Return `value` as JSON text, or raise ArchiveError naming the field.

    `kind` is the type the top-level value must have (dict or list). A tuple
    is accepted where a list is expected.
    """
    accepted = (list, tuple) if kind is list else (kind,)
    if not isinstance(value, accepted):
        msg = (
            f"{owner}: {field} must be a {kind.__name__}, not"
            f" {type(value).__name__} ({value!r:.80})."
        )
        raise ArchiveError(msg)

    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        msg = (
            f"{owner}: {field} is not JSON-compatible ({exc}). Store only str,"
            " int, float, bool, None, and lists and dicts of them."
        )
        raise ArchiveError(msg) from exc


def run_from_row(row: Sequence[Any]) -> RunRecord:
    """Build a RunRecord from a row selected with RUN_COLUMNS."""
    run_id, created, status, target_path, target_source, seed, config, summary = row
    return RunRecord(
        run_id=run_id,
        created=created,
        status=status,
        target_path=target_path,
        target_source=target_source,
        seed=seed,
        config=json.loads(config),
        summary=json.loads(summary),
    )


def candidate_to_row(
    candidate: CandidateRecord, *, run_id: str, generation: int, now: float
) -> tuple[Any, ...]:
    """Check `candidate` against its generation and encode it as a row.

    The row is in CANDIDATE_COLUMNS order. `now` replaces a `created` of 0.0.
    Column types and ranges are also enforced by the table's CHECK
    constraints, which is where a wrong type in any other field is caught.
    """
    owner = f"candidate {candidate.candidate_id!r} of run {run_id}"
    if candidate.run_id != run_id:
        msg = f"{owner} has run_id {candidate.run_id!r}. Set it to {run_id!r}."
        raise ArchiveError(msg)
    if candidate.generation != generation:
        msg = (
            f"{owner} has generation {candidate.generation!r} but is written as"
            f" part of generation {generation}. Set its generation to {generation}."
        )
        raise ArchiveError(msg)
    if isinstance(candidate.cost, float) and math.isnan(candidate.cost):
        msg = f"{owner} has cost NaN. Use float('inf') for the worst cost."
        raise ArchiveError(msg)
    parents = candidate.parents
    if not isinstance(parents, (tuple, list)) or not all(
        isinstance(parent, str) for parent in parents
    ):
        msg = f"{owner}: parents must be a tuple of candidate ids, not {parents!r}."
        raise ArchiveError(msg)

    return (
        candidate.candidate_id,
        run_id,
        generation,
        candidate.source_hash,
        candidate.source,
        encode_json(candidate.genome, field="genome", owner=owner, kind=list),
        encode_json(parents, field="parents", owner=owner, kind=list),
        candidate.operator,
        candidate.outcome,
        candidate.failures,
        candidate.cost,
        candidate.edits,
        encode_json(candidate.detail, field="detail", owner=owner, kind=dict),
        candidate.created or now,
    )


def candidate_from_row(row: Sequence[Any]) -> CandidateRecord:
    """Build a CandidateRecord from a row selected with CANDIDATE_COLUMNS."""
    (
        candidate_id,
        run_id,
        generation,
        source_hash,
        source,
        genome,
        parents,
        operator,
        outcome,
        failures,
        cost,
        edits,
        detail,
        created,
    ) = row
    return CandidateRecord(
        candidate_id=candidate_id,
        run_id=run_id,
        generation=generation,
        source_hash=source_hash,
        source=source,
        genome=json.loads(genome),
        parents=tuple(json.loads(parents)),
        operator=operator,
        outcome=outcome,
        failures=failures,
        cost=cost,
        edits=edits,
        detail=json.loads(detail),
        created=created,
    )


def verdict_from_row(row: Sequence[Any]) -> VerdictRecord:
    """Build a VerdictRecord from a row selected with VERDICT_COLUMNS."""
    run_id, candidate_id, verdict, checks, promoted, created = row
    return VerdictRecord(
        run_id=run_id,
        candidate_id=candidate_id,
        verdict=verdict,
        checks=json.loads(checks),
        promoted=bool(promoted),
        created=created,
    )
