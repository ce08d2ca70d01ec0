"""The Archive class: one SQLite file of runs and their candidates.

The file is in WAL mode, so readers in other connections or processes see
every committed generation while a run is still writing, and neither blocks
the other. Each write method is one transaction: `add_generation` stores all
of its candidates or none of them, even when the process is killed part-way.

An archive of an older schema version is upgraded when it is opened for
writing. Opened read-only it is read as it is, and a version 1 file, which
has no verdicts table, reads as having no verdicts.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Final

from ._errors import ArchiveError, sqlite_failure
from ._files import check_file_header, check_readable, prepare_writable
from ._records import (
    CANDIDATE_COLUMNS,
    RUN_COLUMNS,
    CandidateRecord,
    RunRecord,
    candidate_from_row,
    candidate_to_row,
    check_status,
    encode_json,
    run_from_row,
)
from ._schema import ensure_schema, validate_schema
from ._operator_stats import (
    OperatorStatsMethods,
    OperatorStatsRecord,
    check_operator_stats,
)
from ._verdicts import VerdictMethods

__all__ = ["Archive"]

#: Seconds a statement waits for another connection's lock before failing.
#: Commits take milliseconds, so only a stuck or very slow writer waits this
#: long, and it is then reported instead of waited on forever.
BUSY_TIMEOUT_SECONDS: Final = 30.0

#: Random bytes in a run id ("r" and twice as many hex digits). Collisions
#: are retried, so the length only needs to keep ids short and rarely equal.
RUN_ID_BYTES: Final = 4

#: Attempts to draw an unused run id before giving up.
RUN_ID_ATTEMPTS: Final = 8

#: Run ids listed in the error for an unknown run id.
RUN_IDS_SHOWN: Final = 5

_CANDIDATE_INSERT: Final = (
    f"INSERT INTO candidates ({CANDIDATE_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: Range of an SQLite INTEGER, a signed 64-bit number.
SQLITE_INTEGER_RANGE: Final = range(-(2**63), 2**63)


class Archive(VerdictMethods, OperatorStatsMethods):
    """An open archive file. Create it with `Archive.open`.

    Use it as a context manager, or call `close` when done. An instance
    belongs to the thread that opened it, as its SQLite connection does.
    """

    path: Path

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        *,
        readonly: bool,
        version: int,
    ) -> None:
        self.path = path
        self._connection = connection
        self._readonly = readonly
        self._version = version
        self._closed = False

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Archive:
        """Open the archive at `path`, creating the file and its folder if missing.

        A missing file, a zero-length file or an SQLite file without tables
        becomes a new archive unless `readonly` is set. Permissions and the
        file's header are checked before anything is written. A file that is
        not an evolver archive, is truncated, or has a newer schema version
        raises ArchiveError, which names the path and the fix. An older schema
        version is upgraded in place unless `readonly` is set.
        """
        path = Path(path)
        if readonly:
            check_readable(path)
        else:
            prepare_writable(path)
        check_file_header(path)

        mode = "ro" if readonly else "rwc"
        try:
            connection = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode={mode}",
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, f"opening the archive {path}") from exc

        try:
            connection.execute("PRAGMA foreign_keys = ON")
            if readonly:
                version = validate_schema(connection, path)
            else:
                version = ensure_schema(connection, path)
        except sqlite3.Error as exc:
            connection.close()
            raise sqlite_failure(exc, f"opening the archive {path}") from exc
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, readonly=readonly, version=version)

    def __repr__(self) -> str:
        return f"Archive(path={str(self.path)!r}, readonly={self._readonly})"

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection. Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._connection.close()

    def create_run(
        self, *, target_path: str, target_source: str, seed: int, config: dict
    ) -> RunRecord:
        """Store a new run with status "running" and return its record.

        The record's `config` is decoded from the stored JSON, so it equals
        what `run` returns later.
        """
        config_json = encode_json(config, field="config", owner="run", kind=dict)
        if isinstance(seed, int) and seed not in SQLITE_INTEGER_RANGE:
            msg = (
                f"run seed {seed} does not fit in a signed 64-bit integer, the"
                " largest integer SQLite stores. Use a seed below 2**63."
            )
            raise ArchiveError(msg)

        with self._write("creating a run"):
            for _ in range(RUN_ID_ATTEMPTS):
                run = RunRecord(
                    run_id="r" + secrets.token_hex(RUN_ID_BYTES),
                    created=time.time(),
                    status="running",
                    target_path=target_path,
                    target_source=target_source,
                    seed=seed,
                    config=json.loads(config_json),
                    summary={},
                )
                if not self._run_exists(run.run_id):
                    break
            else:
                msg = f"no unused run id found in {RUN_ID_ATTEMPTS} random draws."
                raise ArchiveError(msg)
            self._connection.execute(
                f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    run.created,
                    run.status,
                    target_path,
                    target_source,
                    seed,
                    config_json,
                    "{}",
                ),
            )
        return run

    def add_generation(
        self,
        run_id: str,
        generation: int,
        candidates: Sequence[CandidateRecord],
        operator_stats: Sequence[OperatorStatsRecord] = (),
    ) -> None:
        """Store the candidates of one generation of a run in one transaction.

        Every candidate must carry this `run_id` and `generation`, and its
        `candidate_id` must be new to the run. If any candidate is rejected,
        none of them is stored. Parents are stored as given and not checked.
        `operator_stats` are the generation's operator statistics, stored in
        the same transaction.
        """
        check_operator_stats(operator_stats, run_id, generation)
        now = time.time()
        rows = [
            candidate_to_row(candidate, run_id=run_id, generation=generation, now=now)
            for candidate in candidates
        ]

        with self._write(f"writing generation {generation} of run {run_id}"):
            self._require_run(run_id)
            for row in rows:
                self._insert_candidate(run_id, row)
            if operator_stats:
                self._insert_operator_stats(operator_stats)

    def finish_run(self, run_id: str, status: str, summary: dict) -> None:
        """Set the status and summary of a run.

        It may be called again, for example when an interrupted run is
        resumed and then finishes.
        """
        check_status(status)
        summary_json = encode_json(
            summary, field="summary", owner=f"run {run_id}", kind=dict
        )

        with self._write(f"finishing run {run_id}"):
            self._require_run(run_id)
            self._connection.execute(
                "UPDATE runs SET status = ?, summary = ? WHERE run_id = ?",
                (status, summary_json, run_id),
            )

    def run(self, run_id: str) -> RunRecord:
        """Return the run with this id, or raise ArchiveError listing known ids."""
        with self._read(f"reading run {run_id}"):
            row = self._connection.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise self._unknown_run(run_id)
        return run_from_row(row)

    def runs(self) -> list[RunRecord]:
        """Return every run, newest first."""
        with self._read("listing runs"):
            rows = self._connection.execute(
                f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created DESC, seq DESC"
            ).fetchall()
        return [run_from_row(row) for row in rows]

    def latest_run(self) -> RunRecord | None:
        """Return the newest run, or None if the archive has no runs."""
        with self._read("reading the latest run"):
            row = self._connection.execute(
                f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created DESC, seq DESC"
                " LIMIT 1"
            ).fetchone()
        return None if row is None else run_from_row(row)

    def candidates(
        self, run_id: str, *, generation: int | None = None
    ) -> list[CandidateRecord]:
        """Return the candidates of a run, by generation and then insertion order.

        With `generation`, only the candidates of that generation are returned.
        """
        query = f"SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE run_id = ?"
        parameters: tuple[object, ...] = (run_id,)
        if generation is not None:
            query += " AND generation = ?"
            parameters += (generation,)

        with self._read(f"reading candidates of run {run_id}"):
            self._require_run(run_id)
            rows = self._connection.execute(
                query + " ORDER BY generation, seq", parameters
            ).fetchall()
        return [candidate_from_row(row) for row in rows]

    def candidate(self, run_id: str, candidate_id: str) -> CandidateRecord:
        """Return one candidate of a run, or raise ArchiveError if unknown."""
        with self._read(f"reading candidate {candidate_id} of run {run_id}"):
            self._require_run(run_id)
            row = self._connection.execute(
                f"SELECT {CANDIDATE_COLUMNS} FROM candidates"
                " WHERE run_id = ? AND candidate_id = ?",
                (run_id, candidate_id),
            ).fetchone()
            if row is None:
                count = self._count(run_id)
                msg = (
                    f"no candidate {candidate_id!r} in run {run_id} of the"
                    f" archive {self.path}, which has {count} candidates in that"
                    " run. Check the candidate id."
                )
                raise ArchiveError(msg)
        return candidate_from_row(row)

    def by_hash(self, run_id: str, source_hash: str) -> CandidateRecord | None:
        """Return the first stored candidate of a run with this source hash, if any."""
        with self._read(f"looking up a source hash in run {run_id}"):
            self._require_run(run_id)
            row = self._connection.execute(
                f"SELECT {CANDIDATE_COLUMNS} FROM candidates"
                " WHERE run_id = ? AND source_hash = ? ORDER BY seq LIMIT 1",
                (run_id, source_hash),
            ).fetchone()
        return None if row is None else candidate_from_row(row)

    def count(self, run_id: str) -> int:
        """Return how many candidates of a run are stored."""
        with self._read(f"counting candidates of run {run_id}"):
            self._require_run(run_id)
            return self._count(run_id)

    def _count(self, run_id: str) -> int:
        query = "SELECT count(*) FROM candidates WHERE run_id = ?"
        return int(self._connection.execute(query, (run_id,)).fetchone()[0])

    def _insert_candidate(self, run_id: str, row: tuple[object, ...]) -> None:
        try:
            self._connection.execute(_CANDIDATE_INSERT, row)
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE":
                reason = "a candidate with this id is already stored in the run"
                fix = "Give each candidate of a run its own candidate_id."
            else:
                reason = f"a field has the wrong type or range ({exc})"
                fix = "Give each field the type that CandidateRecord declares."
            msg = (
                f"candidate {row[0]!r} of run {run_id} was rejected: {reason}."
                f" Nothing of its generation was stored. {fix}"
            )
            raise ArchiveError(msg) from exc
        except UnicodeEncodeError as exc:
            msg = (
                f"candidate {row[0]!r} of run {run_id} was rejected: a text field"
                f" is not valid Unicode ({exc}). Nothing of its generation was"
                " stored."
            )
            raise ArchiveError(msg) from exc

    def _run_exists(self, run_id: str) -> bool:
        query = "SELECT 1 FROM runs WHERE run_id = ?"
        return self._connection.execute(query, (run_id,)).fetchone() is not None

    def _require_run(self, run_id: str) -> None:
        if not self._run_exists(run_id):
            raise self._unknown_run(run_id)

    def _unknown_run(self, run_id: str) -> ArchiveError:
        rows = self._connection.execute(
            "SELECT run_id FROM runs ORDER BY created DESC, seq DESC"
        ).fetchall()
        if not rows:
            known = "It has no runs yet."
        else:
            newest = ", ".join(known_id for (known_id,) in rows[:RUN_IDS_SHOWN])
            older = len(rows) - RUN_IDS_SHOWN
            more = f" and {older} older" if older > 0 else ""
            known = f"Its runs, newest first: {newest}{more}."
        msg = f"no run {run_id!r} in the archive {self.path}. {known}"
        return ArchiveError(msg)

    @contextmanager
    def _read(self, action: str) -> Iterator[None]:
        self._check_open()
        try:
            yield
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, f"{action} in the archive {self.path}") from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[None]:
        """Run the body in one write transaction, rolled back on any exception."""
        self._check_open()
        if self._readonly:
            msg = (
                f"{action} needs write access, but the archive {self.path} was"
                " opened read-only. Open it without readonly=True."
            )
            raise ArchiveError(msg)

        try:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._connection.execute("COMMIT")
            except BaseException:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, f"{action} in the archive {self.path}") from exc

    def _check_open(self) -> None:
        if self._closed:
            msg = f"the archive {self.path} is closed. Open it again to use it."
            raise ArchiveError(msg)

