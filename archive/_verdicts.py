"""The verdict methods of `Archive`: the canary gate's verdicts on candidates."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Final

from ._errors import ArchiveError
from ._records import (
    VERDICT_COLUMNS,
    VerdictRecord,
    check_verdict,
    encode_json,
    verdict_from_row,
)

__all__ = ["VerdictMethods"]

#: First schema version with the verdicts table.
VERDICTS_VERSION: Final = 2


class VerdictMethods:
    """Methods that `Archive` inherits; they use its connection and transactions.

    The stubs below declare what they use, and `Archive` overrides each one.
    """

    path: Path
    _connection: sqlite3.Connection
    _version: int

    def _read(self, action: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self, action: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _require_run(self, run_id: str) -> None:
        raise NotImplementedError

    def add_verdict(
        self,
        run_id: str,
        candidate_id: str,
        *,
        verdict: str,
        checks: dict,
        promoted: bool,
    ) -> VerdictRecord:
        """Store the gate's verdict on a stored candidate and return its record.

        A verdict given earlier to the same candidate is replaced. `checks`
        must be a JSON-compatible dict, and only a "pass" verdict may be
        `promoted`.
        """
        check_verdict(verdict, promoted)
        owner = f"verdict on candidate {candidate_id!r} of run {run_id}"
        checks_json = encode_json(checks, field="checks", owner=owner, kind=dict)
        record = VerdictRecord(
            run_id=run_id,
            candidate_id=candidate_id,
            verdict=verdict,
            checks=json.loads(checks_json),
            promoted=promoted,
            created=time.time(),
        )

        with self._write(f"storing the {owner}"):
            self._require_candidate(run_id, candidate_id)
            self._connection.execute(
                "DELETE FROM verdicts WHERE run_id = ? AND candidate_id = ?",
                (run_id, candidate_id),
            )
            row = (run_id, candidate_id, verdict, checks_json, int(promoted))
            self._connection.execute(
                f"INSERT INTO verdicts ({VERDICT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (*row, record.created),
            )
        return record

    def verdict(self, run_id: str, candidate_id: str) -> VerdictRecord | None:
        """Return the verdict on a candidate, or None if it was never gated."""
        rows = self._select_verdicts(run_id, "AND candidate_id = ?", (candidate_id,))
        return rows[0] if rows else None

    def verdicts(self, run_id: str) -> list[VerdictRecord]:
        """Return the verdicts of a run, in the order they were stored."""
        return self._select_verdicts(run_id, "", ())

    def promoted(self, run_id: str) -> list[VerdictRecord]:
        """Return the verdicts of a run's promoted candidates, in stored order."""
        return self._select_verdicts(run_id, "AND promoted = 1", ())

    def _select_verdicts(
        self, run_id: str, condition: str, parameters: tuple
    ) -> list[VerdictRecord]:
        with self._read(f"reading verdicts of run {run_id}"):
            self._require_run(run_id)
            if self._version < VERDICTS_VERSION:
                return []
            rows = self._connection.execute(
                f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE run_id = ? {condition}"
                " ORDER BY seq",
                (run_id, *parameters),
            ).fetchall()
        return [verdict_from_row(row) for row in rows]

    def _require_candidate(self, run_id: str, candidate_id: str) -> None:
        self._require_run(run_id)
        query = "SELECT 1 FROM candidates WHERE run_id = ? AND candidate_id = ?"
        if self._connection.execute(query, (run_id, candidate_id)).fetchone() is None:
            msg = (
                f"no candidate {candidate_id!r} in run {run_id} of the archive"
                f" {self.path}, so no verdict can be stored for it. Store the"
                " candidate with add_generation first."
            )
            raise ArchiveError(msg)
