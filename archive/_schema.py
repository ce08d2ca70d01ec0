"""The archive's tables, and how a file is recognised as an archive.

An archive carries three marks: `PRAGMA application_id` (a field of the
SQLite header), `PRAGMA user_version` (the schema version) and the
`evolver_meta` table. The `evolver_meta(key, value)` layout and its
`application` and `schema_version` keys stay the same in every schema
version, so that any evolver can recognise an archive that a newer one wrote
and reject it with a clear message instead of misreading it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from ._errors import ArchiveError
from ._files import reject_file
from ._records import RUN_STATUSES

__all__ = [
    "APPLICATION_ID",
    "APPLICATION_MARKER",
    "SCHEMA_VERSION",
    "ensure_schema",
    "validate_schema",
]

#: Schema version stored in `PRAGMA user_version`. Raise it with every change
#: to the tables, and teach `ensure_schema` to migrate older files.
SCHEMA_VERSION: Final = 1

#: `PRAGMA application_id` of every archive: the bytes "EVOL" as an integer,
#: so tools such as `file` can tell the archive from other SQLite files.
APPLICATION_ID: Final = int.from_bytes(b"EVOL", "big")

#: Value of the `application` key in `evolver_meta`.
APPLICATION_MARKER: Final = "evolver-archive"

_STATUS_LIST = ", ".join(f"'{status}'" for status in RUN_STATUSES)

# The `seq` columns alias the rowid. An explicit INTEGER PRIMARY KEY keeps the
# insertion order that listings sort by, because VACUUM may renumber an
# implicit rowid. The CHECK constraints on types stop SQLite's flexible typing
# from storing, for example, the text "3" where an integer belongs.
_TABLES: Final = f"""
CREATE TABLE evolver_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE CHECK (typeof(run_id) = 'text'),
    created REAL NOT NULL CHECK (typeof(created) = 'real'),
    status TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
    target_path TEXT NOT NULL CHECK (typeof(target_path) = 'text'),
    target_source TEXT NOT NULL CHECK (typeof(target_source) = 'text'),
    seed INTEGER NOT NULL CHECK (typeof(seed) = 'integer'),
    config TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE candidates (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    candidate_id TEXT NOT NULL
        CHECK (typeof(candidate_id) = 'text' AND candidate_id <> ''),
    generation INTEGER NOT NULL
        CHECK (typeof(generation) = 'integer' AND generation >= 0),
    source_hash TEXT NOT NULL CHECK (typeof(source_hash) = 'text'),
    source TEXT NOT NULL CHECK (typeof(source) = 'text'),
    genome TEXT NOT NULL,
    parents TEXT NOT NULL,
    operator TEXT NOT NULL CHECK (typeof(operator) = 'text'),
    outcome TEXT NOT NULL CHECK (typeof(outcome) = 'text'),
    failures INTEGER
        CHECK (failures IS NULL OR (typeof(failures) = 'integer' AND failures >= 0)),
    cost REAL CHECK (cost IS NULL OR typeof(cost) = 'real'),
    edits INTEGER NOT NULL CHECK (typeof(edits) = 'integer' AND edits >= 0),
    detail TEXT NOT NULL,
    created REAL NOT NULL CHECK (typeof(created) = 'real'),
    UNIQUE (run_id, candidate_id)
);
CREATE INDEX candidates_by_hash ON candidates (run_id, source_hash);
CREATE INDEX candidates_by_generation ON candidates (run_id, generation);
"""

_REQUIRED_TABLES: Final = frozenset({"evolver_meta", "runs", "candidates"})


def ensure_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Create the archive's tables in an empty database, then validate it.

    The database must be in autocommit mode (`isolation_level=None`). An
    empty database is one without any table and with both pragmas at zero,
    such as a new or zero-length file. Any other database must already be an
    archive of this schema version. Two processes that create the same
    archive at once are serialised by the write lock, and the second one
    finds the tables made by the first.
    """
    if _is_empty(connection):
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            msg = (
                f"SQLite could not switch the archive {path} to WAL mode (it"
                f" stayed in {mode!r} mode). Put the archive on a local file"
                " system."
            )
            raise ArchiveError(msg)
        connection.execute("BEGIN IMMEDIATE")
        try:
            if _is_empty(connection):
                _create_tables(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    validate_schema(connection, path)
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        connection.execute("PRAGMA journal_mode = WAL")


def validate_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Raise ArchiveError unless the database is an archive of SCHEMA_VERSION."""
    if _is_empty(connection):
        raise reject_file(path, "it is an empty database with no archive in it")

    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = _table_names(connection)
    meta = _read_meta(connection) if "evolver_meta" in tables else {}
    marked = meta.get("application") == APPLICATION_MARKER
    if application_id != APPLICATION_ID and not marked:
        reason = (
            "it is an SQLite database of another program, because its PRAGMA"
            f" application_id is {application_id} and it has no evolver_meta"
            " table with the evolver marker"
        )
        raise reject_file(path, reason)

    if version > SCHEMA_VERSION:
        msg = (
            f"the archive {path} was written by a newer evolver: its schema"
            f" version is {version}, and this evolver reads only version"
            f" {SCHEMA_VERSION}. Upgrade evolver to read it, or point evolver at"
            " another archive file."
        )
        raise ArchiveError(msg)

    marks = {
        "PRAGMA application_id": (application_id, APPLICATION_ID),
        "PRAGMA user_version": (version, SCHEMA_VERSION),
        "evolver_meta application": (meta.get("application"), APPLICATION_MARKER),
        "evolver_meta schema_version": (
            meta.get("schema_version"),
            str(SCHEMA_VERSION),
        ),
    }
    wrong = [
        f"{name} is {found!r} instead of {expected!r}"
        for name, (found, expected) in marks.items()
        if found != expected
    ]
    missing = sorted(_REQUIRED_TABLES - tables)
    if missing:
        wrong.append(f"tables missing: {', '.join(missing)}")
    if wrong:
        reason = "its evolver marks are damaged (" + "; ".join(wrong) + ")"
        raise reject_file(path, reason)


def _is_empty(connection: sqlite3.Connection) -> bool:
    objects = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    return objects == 0 and application_id == 0 and version == 0


def _table_names(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


def _read_meta(connection: sqlite3.Connection) -> dict[str, str]:
    try:
        rows = connection.execute("SELECT key, value FROM evolver_meta").fetchall()
    except sqlite3.OperationalError:
        # A foreign table of the same name may lack these columns.
        return {}
    return {str(key): str(value) for key, value in rows}


def _create_tables(connection: sqlite3.Connection) -> None:
    # executescript would COMMIT the open transaction first, so the
    # statements run one by one inside it.
    for statement in _TABLES.split(";"):
        if statement.strip():
            connection.execute(statement)
    connection.executemany(
        "INSERT INTO evolver_meta (key, value) VALUES (?, ?)",
        [
            ("application", APPLICATION_MARKER),
            ("schema_version", str(SCHEMA_VERSION)),
        ],
    )
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
