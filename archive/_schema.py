"""The archive's tables, and how a file is recognised as an archive.

An archive carries three marks: `PRAGMA application_id` (a field of the
SQLite header), `PRAGMA user_version` (the schema version) and the
`evolver_meta` table. The `evolver_meta(key, value)` layout and its
`application` and `schema_version` keys stay the same in every schema
version, so that any evolver can recognise an archive that a newer one wrote
and reject it with a clear message instead of misreading it.

Schema versions:
1. The `runs` and `candidates` tables.
2. Version 1 and the `verdicts` table, the canary gate's verdict on each gated
   candidate.
3. Version 2 and the `operator_stats` table, each edit operator's children,
   improvements and probability per generation of a run.

A new archive is made by creating the version 1 tables and applying every
migration, so new and upgraded files have the same tables. Opening an older
file for writing upgrades it in one transaction. Opening it read-only reads it
as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from ._errors import ArchiveError
from ._files import reject_file
from ._records import RUN_STATUSES, VERDICTS

__all__ = [
    "APPLICATION_ID",
    "APPLICATION_MARKER",
    "OLDEST_VERSION",
    "SCHEMA_VERSION",
    "ensure_schema",
    "validate_schema",
]

#: Schema version stored in `PRAGMA user_version`. Raise it with every change
#: to the tables, and add the statements that migrate the previous version to
#: `_MIGRATIONS`.
SCHEMA_VERSION: Final = 3

#: The oldest schema version this evolver reads and upgrades.
OLDEST_VERSION: Final = 1

#: `PRAGMA application_id` of every archive: the bytes "EVOL" as an integer,
#: so tools such as `file` can tell the archive from other SQLite files.
APPLICATION_ID: Final = int.from_bytes(b"EVOL", "big")

#: Value of the `application` key in `evolver_meta`.
APPLICATION_MARKER: Final = "evolver-archive"

_STATUS_LIST = ", ".join(f"'{status}'" for status in RUN_STATUSES)

_VERDICT_LIST = ", ".join(f"'{verdict}'" for verdict in VERDICTS)

# The `seq` columns alias the rowid. An explicit INTEGER PRIMARY KEY keeps the
# insertion order that listings sort by, because VACUUM may renumber an
# implicit rowid. The CHECK constraints on types stop SQLite's flexible typing
# from storing, for example, the text "3" where an integer belongs.
# These are the version 1 tables, unchanged since that version: later versions
# change them only through `_MIGRATIONS`.
_VERSION_1_TABLES: Final = f"""
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

# A verdict belongs to one stored candidate, and gating it again replaces it.
# `promoted` may be 1 only for a passing verdict.
_VERSION_2_TABLES: Final = f"""
CREATE TABLE verdicts (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ({_VERDICT_LIST})),
    checks TEXT NOT NULL,
    promoted INTEGER NOT NULL
        CHECK (promoted IN (0, 1) AND (promoted = 0 OR verdict = 'pass')),
    created REAL NOT NULL CHECK (typeof(created) = 'real'),
    UNIQUE (run_id, candidate_id),
    FOREIGN KEY (run_id, candidate_id) REFERENCES candidates (run_id, candidate_id)
);
CREATE INDEX verdicts_by_run ON verdicts (run_id, promoted);
"""

# One row per edit operator and generation. Improvements never exceed uses, and
# a probability is a share of the draws of the next generation.
_VERSION_3_TABLES: Final = """
CREATE TABLE operator_stats (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    generation INTEGER NOT NULL
        CHECK (typeof(generation) = 'integer' AND generation >= 0),
    operator TEXT NOT NULL CHECK (typeof(operator) = 'text' AND operator <> ''),
    uses INTEGER NOT NULL CHECK (typeof(uses) = 'integer' AND uses >= 0),
    improvements INTEGER NOT NULL
        CHECK (typeof(improvements) = 'integer' AND improvements BETWEEN 0 AND uses),
    probability REAL NOT NULL
        CHECK (typeof(probability) = 'real' AND probability BETWEEN 0 AND 1),
    UNIQUE (run_id, generation, operator)
);
CREATE INDEX operator_stats_by_run ON operator_stats (run_id, generation);
"""

#: Statements that turn a file of the key's version into the next version.
_MIGRATIONS: Final = {1: _VERSION_2_TABLES, 2: _VERSION_3_TABLES}

#: Tables each schema version has.
_REQUIRED_TABLES: Final = {
    1: frozenset({"evolver_meta", "runs", "candidates"}),
    2: frozenset({"evolver_meta", "runs", "candidates", "verdicts"}),
    3: frozenset({"evolver_meta", "runs", "candidates", "verdicts", "operator_stats"}),
}


def ensure_schema(connection: sqlite3.Connection, path: Path) -> int:
    """Create the archive's tables in an empty database, upgrade an older one.

    Returns the schema version, which is then SCHEMA_VERSION. The database
    must be in autocommit mode (`isolation_level=None`). An empty database is
    one without any table and with both pragmas at zero, such as a new or
    zero-length file. Any other database must already be an archive of a
    version from OLDEST_VERSION to SCHEMA_VERSION. Two processes that create
    or upgrade the same archive at once are serialised by the write lock, and
    the second one finds the tables made by the first.
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
        with _immediate(connection):
            if _is_empty(connection):
                _create_tables(connection)

    if validate_schema(connection, path) < SCHEMA_VERSION:
        _upgrade(connection, path)
        validate_schema(connection, path)
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        connection.execute("PRAGMA journal_mode = WAL")
    return SCHEMA_VERSION


def validate_schema(connection: sqlite3.Connection, path: Path) -> int:
    """Return the archive's schema version, or raise ArchiveError.

    The database must be an archive of a version from OLDEST_VERSION to
    SCHEMA_VERSION, with the marks and tables of that version.
    """
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
            f" version is {version}, and this evolver reads versions"
            f" {OLDEST_VERSION} to {SCHEMA_VERSION}. Upgrade evolver to read it,"
            " or point evolver at another archive file."
        )
        raise ArchiveError(msg)

    # A version outside the known range is damage, so the file is checked
    # against the current version's marks and tables.
    known = OLDEST_VERSION <= version <= SCHEMA_VERSION
    expected_version = version if known else SCHEMA_VERSION
    marks = {
        "PRAGMA application_id": (application_id, APPLICATION_ID),
        "PRAGMA user_version": (version, expected_version),
        "evolver_meta application": (meta.get("application"), APPLICATION_MARKER),
        "evolver_meta schema_version": (
            meta.get("schema_version"),
            str(expected_version),
        ),
    }
    wrong = [
        f"{name} is {found!r} instead of {expected!r}"
        for name, (found, expected) in marks.items()
        if found != expected
    ]
    missing = sorted(_REQUIRED_TABLES[expected_version] - tables)
    if missing:
        wrong.append(f"tables missing: {', '.join(missing)}")
    if wrong:
        reason = "its evolver marks are damaged (" + "; ".join(wrong) + ")"
        raise reject_file(path, reason)
    return version


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
    """Create the version 1 tables and migrate them to SCHEMA_VERSION."""
    _execute_script(connection, _VERSION_1_TABLES)
    connection.executemany(
        "INSERT INTO evolver_meta (key, value) VALUES (?, ?)",
        [("application", APPLICATION_MARKER), ("schema_version", str(OLDEST_VERSION))],
    )
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {OLDEST_VERSION}")
    _migrate(connection, OLDEST_VERSION)


def _upgrade(connection: sqlite3.Connection, path: Path) -> None:
    """Migrate an archive of an older version to SCHEMA_VERSION in one transaction."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    try:
        with _immediate(connection):
            # Another process may have upgraded the file since it was read.
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            _migrate(connection, version)
    except sqlite3.Error as exc:
        msg = (
            f"upgrading the archive {path} from schema version {version} to"
            f" {SCHEMA_VERSION} failed: {exc}. The file was left unchanged at"
            f" version {version}; open it read-only to read it, or move it away"
            " to start a new archive."
        )
        raise ArchiveError(msg) from exc


def _migrate(connection: sqlite3.Connection, version: int) -> None:
    """Apply the migrations from `version` to SCHEMA_VERSION inside a transaction."""
    for step in range(version, SCHEMA_VERSION):
        _execute_script(connection, _MIGRATIONS[step])
    connection.execute(
        "UPDATE evolver_meta SET value = ? WHERE key = 'schema_version'",
        (str(SCHEMA_VERSION),),
    )
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _execute_script(connection: sqlite3.Connection, script: str) -> None:
    # executescript would COMMIT the open transaction first, so the
    # statements run one by one inside it.
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


@contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    """Run the body in a write transaction, rolled back on any exception."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
