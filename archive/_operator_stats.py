"""The operator statistics of `Archive`: how each edit operator fared per generation.

A run that adapts its operator probabilities stores, for every generation, how
many children each edit operator made, how many of them improved on their
parent, and the probability the operator has for the next generation. The rows
of a generation are written in the transaction that writes its candidates.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final

from ._errors import ArchiveError

__all__ = ["OPERATOR_STATS_VERSION", "OperatorStatsMethods", "OperatorStatsRecord"]

#: First schema version with the operator_stats table.
OPERATOR_STATS_VERSION: Final = 3

_COLUMNS: Final = "run_id, generation, operator, uses, improvements, probability"


@dataclass(frozen=True)
class OperatorStatsRecord:
    """One edit operator's children and probability in one generation of a run.

    `uses` counts the children whose new edit the operator made, `improvements`
    those of them that beat their parent, and `probability` is the chance of
    drawing the operator in the next generation.
    """

    run_id: str
    generation: int
    operator: str
    uses: int
    improvements: int
    probability: float


def check_operator_stats(
    records: Sequence[OperatorStatsRecord], run_id: str, generation: int
) -> None:
    """Raise ArchiveError for a record of another run or generation, or bad counts."""
    for record in records:
        owner = f"operator statistics of {record.operator!r} in generation {generation}"
        if record.run_id != run_id or record.generation != generation:
            msg = (
                f"the {owner} belong to run {record.run_id} generation"
                f" {record.generation}, not run {run_id} generation {generation}."
                " Store each generation's statistics with that generation."
            )
            raise ArchiveError(msg)
        if not 0 <= record.improvements <= record.uses:
            msg = (
                f"the {owner} count {record.improvements} improvements of"
                f" {record.uses} uses; improvements must be between 0 and uses."
            )
            raise ArchiveError(msg)
        if not (math.isfinite(record.probability) and 0 <= record.probability <= 1):
            msg = (
                f"the {owner} have the probability {record.probability!r}; use a"
                " number from 0 to 1."
            )
            raise ArchiveError(msg)


class OperatorStatsMethods:
    """Methods that `Archive` inherits; they use its connection and transactions."""

    _connection: sqlite3.Connection
    _version: int

    def _read(self, action: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _require_run(self, run_id: str) -> None:
        raise NotImplementedError

    def _insert_operator_stats(self, records: Sequence[OperatorStatsRecord]) -> None:
        """Insert rows inside the caller's open write transaction."""
        self._connection.executemany(
            f"INSERT INTO operator_stats ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    r.run_id,
                    r.generation,
                    r.operator,
                    r.uses,
                    r.improvements,
                    float(r.probability),
                )
                for r in records
            ],
        )

    def operator_stats(self, run_id: str) -> list[OperatorStatsRecord]:
        """Return a run's operator statistics by generation, then by stored order.

        An archive of a schema version before 3, opened read-only, has none.
        """
        with self._read(f"reading operator statistics of run {run_id}"):
            self._require_run(run_id)
            if self._version < OPERATOR_STATS_VERSION:
                return []
            rows = self._connection.execute(
                f"SELECT {_COLUMNS} FROM operator_stats WHERE run_id = ?"
                " ORDER BY generation, seq",
                (run_id,),
            ).fetchall()
        return [
            OperatorStatsRecord(
                run_id=row[0],
                generation=row[1],
                operator=row[2],
                uses=row[3],
                improvements=row[4],
                probability=row[5],
            )
            for row in rows
        ]
