"""Tests of the archive package against real SQLite files."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import archive
from archive import (
    RUN_STATUSES,
    SCHEMA_VERSION,
    Archive,
    ArchiveError,
    CandidateRecord,
    RunRecord,
    VerdictRecord,
)

#: uid and gid of the "nobody" account, used to drop root's permission override.
NOBODY = 65534

posix_only = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="needs POSIX permissions and os.fork"
)


def make_candidate(
    run_id: str, generation: int, index: int, /, **fields
) -> CandidateRecord:
    values = {
        "candidate_id": f"g{generation}c{index}",
        "run_id": run_id,
        "generation": generation,
        "source_hash": f"hash-{generation}-{index}",
        "source": f"def f():\n    return {index}\n",
        "genome": [{"kind": "replace", "node": index, "text": str(index)}],
        "parents": (),
        "operator": "original" if generation == 0 else "mutation:replace",
        "outcome": "ok",
        "failures": 0,
        "cost": 1000.0 + index,
        "edits": generation,
        "detail": {"tests": {"test_f": "passed"}},
        "created": 1_700_000_000.0 + generation + index / 100,
    }
    values.update(fields)
    return CandidateRecord(**values)


def new_run(store: Archive, seed: int = 0) -> RunRecord:
    return store.create_run(
        target_path="examples/target.py",
        target_source="def f():\n    return 0\n",
        seed=seed,
        config={"population": 8, "backend": "wasm"},
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".evolver" / "archive.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[Archive]:
    with Archive.open(path) as opened:
        yield opened


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder outside pytest's private temporary tree, open to every user."""
    folder = Path(tempfile.mkdtemp(prefix="evolver-archive-test-"))
    folder.chmod(0o755)
    yield folder
    for inner, folders, files in os.walk(folder):
        for name in folders + files:
            os.chmod(os.path.join(inner, name), 0o700)
    shutil.rmtree(folder)


def call_unprivileged(function: Callable[[], object]) -> str:
    """Call `function` without root's permission override and describe the outcome.

    As root, the call runs in a forked child that has switched to the
    `nobody` account, because root may write to read-only folders.
    """
    if os.geteuid() != 0:
        return describe_call(function)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write_end, describe_call(function).encode())
            status = 0
        finally:
            os._exit(status)

    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return output


def describe_call(function: Callable[[], object]) -> str:
    try:
        return f"returned: {function()}"
    except ArchiveError as exc:
        return f"ArchiveError: {exc}"


def open_and_count(path: Path, *, readonly: bool) -> int:
    with Archive.open(path, readonly=readonly) as opened:
        return len(opened.runs())


def fill(store: Archive, generations: int = 2, size: int = 3) -> RunRecord:
    run = new_run(store)
    for generation in range(generations):
        batch = [make_candidate(run.run_id, generation, i) for i in range(size)]
        store.add_generation(run.run_id, generation, batch)
    return run


def test_exports_match_all():
    public = {name for name in dir(archive) if not name.startswith("_")}
    assert set(archive.__all__) == public


def test_run_round_trip(store: Archive):
    before = time.time()
    run = store.create_run(
        target_path="pkg/mod.py",
        target_source="x = 'é'\n",
        seed=-5,
        config={"nested": {"list": [1, 2.5, None, True]}, "name": "ü"},
    )
    after = time.time()

    assert run.run_id.startswith("r")
    assert len(run.run_id) == 9
    assert before <= run.created <= after
    assert run.status == "running"
    assert run.summary == {}
    assert store.run(run.run_id) == run

    store.finish_run(run.run_id, "finished", {"best": "g1c0", "fronts": [[1, 2]]})
    finished = store.run(run.run_id)
    assert finished.status == "finished"
    assert finished.summary == {"best": "g1c0", "fronts": [[1, 2]]}
    assert dataclasses.replace(finished, status="running", summary={}) == run


def test_candidate_round_trip(store: Archive):
    run = new_run(store)
    original = make_candidate(run.run_id, 0, 0, cost=float("inf"))
    child = make_candidate(
        run.run_id,
        1,
        0,
        source="s = 'ünïcode ✓'\n" * 50,
        genome=[{"op": "swap", "path": [0, 1], "value": 1.5}, {"op": "delete"}],
        parents=("g0c0", "g0c1"),
        operator="crossover",
        outcome="timeout",
        failures=None,
        cost=None,
        edits=2,
        detail={"stderr": "Traceback…", "timings": [0.5, 1.25], "ok": False},
    )
    minus = make_candidate(run.run_id, 1, 1, failures=7, cost=float("-inf"))
    store.add_generation(run.run_id, 0, [original])
    store.add_generation(run.run_id, 1, [child, minus])

    assert store.candidate(run.run_id, "g0c0") == original
    assert store.candidate(run.run_id, "g0c0").cost == float("inf")
    assert store.candidate(run.run_id, "g1c0") == child
    assert store.candidate(run.run_id, "g1c0").parents == ("g0c0", "g0c1")
    assert store.candidate(run.run_id, "g1c1").cost == float("-inf")
    assert store.candidates(run.run_id) == [original, child, minus]
    assert store.by_hash(run.run_id, child.source_hash) == child


def test_inf_cost_stored_as_real(path: Path, store: Archive):
    run = new_run(store)
    endless = make_candidate(run.run_id, 0, 0, cost=float("inf"))
    store.add_generation(run.run_id, 0, [endless])

    with sqlite3.connect(path) as raw:
        stored = raw.execute("SELECT cost, typeof(cost) FROM candidates").fetchone()
    raw.close()
    assert stored == (float("inf"), "real")


def test_zero_created_is_stamped(store: Archive):
    run = new_run(store)
    before = time.time()
    store.add_generation(run.run_id, 0, [make_candidate(run.run_id, 0, 0, created=0.0)])
    after = time.time()

    created = store.candidate(run.run_id, "g0c0").created
    assert before <= created <= after


def test_candidates_order_and_filter(store: Archive):
    run = new_run(store)
    first = [make_candidate(run.run_id, 0, i) for i in (5, 1, 3)]
    second = [make_candidate(run.run_id, 1, i) for i in (2, 9)]
    store.add_generation(run.run_id, 0, first)
    store.add_generation(run.run_id, 1, second)
    late = [make_candidate(run.run_id, 0, 7)]
    store.add_generation(run.run_id, 0, late)

    ids = [c.candidate_id for c in store.candidates(run.run_id)]
    assert ids == ["g0c5", "g0c1", "g0c3", "g0c7", "g1c2", "g1c9"]
    assert store.candidates(run.run_id, generation=1) == second
    assert store.candidates(run.run_id, generation=4) == []
    assert store.count(run.run_id) == 6


def test_runs_keep_candidates_apart(store: Archive):
    first = new_run(store, seed=1)
    second = new_run(store, seed=2)
    store.add_generation(first.run_id, 0, [make_candidate(first.run_id, 0, 0)])
    other = make_candidate(second.run_id, 0, 0, source="y")
    store.add_generation(second.run_id, 0, [other])

    assert store.count(first.run_id) == 1
    assert store.count(second.run_id) == 1
    assert store.candidate(second.run_id, "g0c0").source == "y"
    assert store.candidate(first.run_id, "g0c0").source != "y"


def test_by_hash_first_or_none(store: Archive):
    run = new_run(store)
    twins = [
        make_candidate(run.run_id, 0, 0, source_hash="same"),
        make_candidate(run.run_id, 0, 1, source_hash="same"),
    ]
    store.add_generation(run.run_id, 0, twins)

    assert store.by_hash(run.run_id, "same") == twins[0]
    assert store.by_hash(run.run_id, "other") is None


def test_hash_index_exists(path: Path, store: Archive):
    with sqlite3.connect(path) as raw:
        columns = raw.execute("PRAGMA index_info(candidates_by_hash)").fetchall()
    raw.close()
    assert [name for _, _, name in columns] == ["run_id", "source_hash"]


def test_duplicate_id_rolls_back(store: Archive):
    run = fill(store, generations=1, size=2)
    batch = [
        make_candidate(run.run_id, 1, 0),
        make_candidate(run.run_id, 1, 1, candidate_id="g0c1"),
    ]

    with pytest.raises(ArchiveError, match="'g0c1'.*already stored") as info:
        store.add_generation(run.run_id, 1, batch)
    assert "Nothing of its generation was stored" in str(info.value)
    assert store.count(run.run_id) == 2
    assert store.candidates(run.run_id, generation=1) == []
    assert store.by_hash(run.run_id, "hash-1-0") is None


def test_duplicate_within_batch_rolls_back(store: Archive):
    run = new_run(store)
    batch = [make_candidate(run.run_id, 0, 0), make_candidate(run.run_id, 0, 0)]

    with pytest.raises(ArchiveError, match="already stored"):
        store.add_generation(run.run_id, 0, batch)
    assert store.count(run.run_id) == 0


@pytest.mark.parametrize(
    "field",
    [
        {"failures": "many"},
        {"failures": -1},
        {"failures": 1.5},
        {"edits": None},
        {"cost": "cheap"},
        {"source": None},
        {"candidate_id": ""},
    ],
)
def test_wrong_type_rolls_back(store: Archive, field: dict):
    run = new_run(store)
    batch = [
        make_candidate(run.run_id, 1, 0),
        make_candidate(run.run_id, 1, 1, **field),
    ]

    with pytest.raises(ArchiveError, match="rejected"):
        store.add_generation(run.run_id, 1, batch)
    assert store.count(run.run_id) == 0


@pytest.mark.parametrize(
    ("field", "match"),
    [
        ({"run_id": "rother"}, "has run_id 'rother'"),
        ({"generation": 3}, "has generation 3"),
        ({"cost": float("nan")}, "cost NaN"),
        ({"detail": {"seen": {1, 2}}}, "detail is not JSON-compatible"),
        ({"detail": ["not", "a", "dict"]}, "detail must be a dict"),
        ({"genome": "abc"}, "genome must be a list"),
        ({"parents": "g0c0"}, "parents must be a tuple"),
    ],
)
def test_invalid_candidate_rejected(store: Archive, field: dict, match: str):
    run = new_run(store)
    batch = [
        make_candidate(run.run_id, 1, 0),
        make_candidate(run.run_id, 1, 1, **field),
    ]

    with pytest.raises(ArchiveError, match=match):
        store.add_generation(run.run_id, 1, batch)
    assert store.count(run.run_id) == 0


KILLED_WRITER = """
import os
import sys

from archive import Archive, CandidateRecord

path, run_id = sys.argv[1], sys.argv[2]
store = Archive.open(path)
inserts = 0


def exit_on_third_insert(statement):
    global inserts
    if statement.startswith("INSERT INTO candidates"):
        inserts += 1
        if inserts == 3:
            os._exit(17)


# The trace callback runs as each statement starts, so the process dies with
# two candidates of the generation inserted and the transaction still open.
store._connection.set_trace_callback(exit_on_third_insert)
source = "x = 1\\n" * 300_000
batch = [
    CandidateRecord(f"big{i}", run_id, 1, f"h{i}", source, [], ("g0c0",), "m",
                    "ok", 0, 1.0, 1, {})
    for i in range(5)
]
store.add_generation(run_id, 1, batch)
"""


def test_killed_writer_leaves_nothing(path: Path, tmp_path: Path):
    with Archive.open(path) as store:
        run = fill(store, generations=1, size=2)

    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path), run.run_id],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 17, result.stderr
    with Archive.open(path) as store:
        assert store.count(run.run_id) == 2
        assert store.candidates(run.run_id, generation=1) == []
        store.add_generation(run.run_id, 1, [make_candidate(run.run_id, 1, 0)])
        assert store.count(run.run_id) == 3


def test_unknown_run_lists_runs(store: Archive):
    with pytest.raises(ArchiveError, match="has no runs yet"):
        store.run("rmissing")

    runs = [new_run(store, seed=i) for i in range(7)]
    with pytest.raises(ArchiveError) as info:
        store.run("rmissing")
    message = str(info.value)
    assert "'rmissing'" in message
    assert str(store.path) in message
    assert runs[-1].run_id in message
    assert runs[0].run_id not in message
    assert "and 2 older" in message

    for method in (store.count, store.candidates):
        with pytest.raises(ArchiveError, match="no run 'rmissing'"):
            method("rmissing")
    with pytest.raises(ArchiveError, match="no run 'rmissing'"):
        store.add_generation("rmissing", 0, [make_candidate("rmissing", 0, 0)])
    with pytest.raises(ArchiveError, match="no run 'rmissing'"):
        store.finish_run("rmissing", "failed", {})


def test_unknown_candidate_raises(store: Archive):
    run = fill(store, generations=1, size=2)

    with pytest.raises(ArchiveError, match="no candidate 'nope'.*2 candidates"):
        store.candidate(run.run_id, "nope")


def test_finish_run_rejects_status(store: Archive):
    run = new_run(store)

    with pytest.raises(ArchiveError, match="'done' is invalid"):
        store.finish_run(run.run_id, "done", {})
    for status in RUN_STATUSES:
        store.finish_run(run.run_id, status, {"status": status})
        assert store.run(run.run_id).status == status


def test_latest_run_ordering(store: Archive):
    assert store.latest_run() is None
    assert store.runs() == []

    runs = [new_run(store, seed=i) for i in range(3)]

    assert store.latest_run() == runs[2]
    assert store.runs() == runs[::-1]
    store.finish_run(runs[0].run_id, "finished", {})
    assert store.latest_run() == runs[2]


def test_reopen_keeps_everything(path: Path):
    with Archive.open(path) as store:
        run = fill(store)
        expected = store.candidates(run.run_id)

    with Archive.open(path) as store:
        assert store.runs() == [run]
        assert store.candidates(run.run_id) == expected


def test_wal_mode_and_marks(path: Path, store: Archive):
    with sqlite3.connect(path) as raw:
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        application_id = raw.execute("PRAGMA application_id").fetchone()[0]
        meta = dict(raw.execute("SELECT key, value FROM evolver_meta"))
    raw.close()

    assert mode == "wal"
    assert version == SCHEMA_VERSION
    assert application_id.to_bytes(4, "big") == b"EVOL"
    assert meta == {
        "application": "evolver-archive",
        "schema_version": str(SCHEMA_VERSION),
    }


def test_reader_sees_commits(path: Path, store: Archive):
    run = fill(store, generations=1, size=2)

    with Archive.open(path, readonly=True) as reader:
        assert reader.count(run.run_id) == 2
        store.add_generation(run.run_id, 1, [make_candidate(run.run_id, 1, 0)])
        assert reader.candidates(run.run_id, generation=1) == [
            make_candidate(run.run_id, 1, 0)
        ]
        with pytest.raises(ArchiveError, match="opened read-only"):
            reader.finish_run(run.run_id, "failed", {})


READER = """
import sys

from archive import Archive

with Archive.open(sys.argv[1], readonly=True) as reader:
    print(reader.count(sys.argv[2]))
"""


def test_reader_process_sees_commits(path: Path, store: Archive, tmp_path: Path):
    run = fill(store, generations=2, size=2)

    result = subprocess.run(
        [sys.executable, "-c", READER, str(path), run.run_id],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4"


def test_creates_parent_folder(tmp_path: Path):
    path = tmp_path / "a" / "b" / "archive.sqlite"

    with Archive.open(path) as store:
        assert store.path == path
        assert store.runs() == []
    assert path.is_file()


def test_readonly_missing_file(tmp_path: Path):
    path = tmp_path / "missing" / "archive.sqlite"

    with pytest.raises(ArchiveError, match="does not exist") as info:
        Archive.open(path, readonly=True)
    assert str(path) in str(info.value)
    assert not path.parent.exists()


def test_folder_path_rejected(tmp_path: Path):
    with pytest.raises(ArchiveError, match="is a folder, not an archive file"):
        Archive.open(tmp_path)
    with pytest.raises(ArchiveError, match="is a folder, not an archive file"):
        Archive.open(tmp_path, readonly=True)


def test_empty_file_becomes_archive(tmp_path: Path):
    path = tmp_path / "archive.sqlite"
    path.touch()

    with pytest.raises(ArchiveError, match="empty database"):
        Archive.open(path, readonly=True)
    with Archive.open(path) as store:
        run = new_run(store)
    with Archive.open(path, readonly=True) as store:
        assert store.runs() == [run]


def test_closed_archive_raises(store: Archive):
    store.close()
    store.close()

    with pytest.raises(ArchiveError, match="is closed"):
        store.runs()


def assert_rejected(path: Path, reason: str, *, readonly: bool = False) -> str:
    with pytest.raises(ArchiveError) as info:
        Archive.open(path, readonly=readonly)
    message = str(info.value)
    assert str(path) in message
    assert reason in message
    return message


def test_foreign_sqlite_rejected(tmp_path: Path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
        raw.execute("INSERT INTO notes VALUES ('keep me')")
        raw.execute("PRAGMA user_version = 7")
    raw.close()
    before = path.read_bytes()

    message = assert_rejected(path, "SQLite database of another program")
    assert "move this file away" in message
    assert_rejected(path, "another program", readonly=True)
    assert path.read_bytes() == before


def test_text_file_rejected(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 20)

    assert_rejected(path, "not an SQLite database file")
    assert_rejected(path, "not an SQLite database file", readonly=True)
    assert path.read_text().startswith("these are my notes")


def test_truncated_archive_rejected(path: Path):
    with Archive.open(path) as store:
        run = new_run(store)
        batch = [
            make_candidate(run.run_id, 0, i, source="y = 2\n" * 2000) for i in range(8)
        ]
        store.add_generation(run.run_id, 0, batch)
    assert not Path(f"{path}-wal").exists()
    whole = path.read_bytes()
    page_size = int.from_bytes(whole[16:18], "big")

    path.write_bytes(whole[: len(whole) // 2 // page_size * page_size])
    assert_rejected(path, "so the file is truncated")
    path.write_bytes(whole[:-100])
    assert_rejected(path, "not a whole number")
    path.write_bytes(whole[:60])
    assert_rejected(path, "not an SQLite database file", readonly=True)


def test_damaged_pages_raise(path: Path):
    with Archive.open(path) as store:
        run = new_run(store)
        batch = [
            make_candidate(run.run_id, 0, i, source="z = 3\n" * 2000) for i in range(8)
        ]
        store.add_generation(run.run_id, 0, batch)
    whole = bytearray(path.read_bytes())
    page_size = int.from_bytes(whole[16:18], "big")
    start = len(whole) // 2 // page_size * page_size
    whole[start:] = b"\xff" * (len(whole) - start)
    path.write_bytes(bytes(whole))

    with Archive.open(path, readonly=True) as store:
        with pytest.raises(ArchiveError) as info:
            store.candidates(run.run_id)
    message = str(info.value)
    assert f"reading candidates of run {run.run_id} in the archive {path}" in message
    assert "The file is damaged. Move it away" in message


def test_newer_schema_rejected(path: Path):
    with Archive.open(path) as store:
        new_run(store)
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        raw.execute("UPDATE evolver_meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION + 1),))
    raw.close()

    message = assert_rejected(path, "written by a newer evolver")
    assert f"schema version is {SCHEMA_VERSION + 1}" in message
    assert "Upgrade evolver" in message
    assert_rejected(path, "newer evolver", readonly=True)


def test_damaged_marks_rejected(path: Path):
    with Archive.open(path) as store:
        new_run(store)
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 0")
    raw.close()

    assert_rejected(path, f"PRAGMA user_version is 0 instead of {SCHEMA_VERSION}")


@posix_only
def test_read_only_folder(shared_folder: Path):
    locked = shared_folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    path = locked / "archive.sqlite"
    nested = locked / "deeper" / "archive.sqlite"

    outcome = call_unprivileged(lambda: open_and_count(path, readonly=False))
    assert outcome.startswith("ArchiveError: ")
    assert f"the folder {locked} is not writable" in outcome
    assert str(path) in outcome
    outcome = call_unprivileged(lambda: open_and_count(nested, readonly=False))
    assert outcome.startswith(f"ArchiveError: cannot create the folder {nested.parent}")
    assert os.listdir(locked) == []


@posix_only
def test_unwritable_file(shared_folder: Path):
    path = shared_folder / "archive.sqlite"
    with Archive.open(path) as store:
        new_run(store)
    path.chmod(0o444)
    shared_folder.chmod(0o777)

    outcome = call_unprivileged(lambda: open_and_count(path, readonly=False))
    assert outcome == (
        f"ArchiveError: the archive file {path} is not writable. Fix its"
        " permissions, choose another archive path, or open the archive read-only."
    )
    outcome = call_unprivileged(lambda: open_and_count(path, readonly=True))
    assert outcome == "returned: 1"


def test_records_are_frozen():
    candidate = make_candidate("r1", 0, 0)

    with pytest.raises(dataclasses.FrozenInstanceError):
        candidate.cost = 2.0  # type: ignore[misc]


def test_seed_range_checked(store: Archive):
    largest = 2**63 - 1

    assert store.run(new_run(store, seed=largest).run_id).seed == largest
    with pytest.raises(ArchiveError, match="seed 9223372036854775808 does not fit"):
        new_run(store, seed=largest + 1)
    assert len(store.runs()) == 1


def test_created_run_is_stored_form(store: Archive):
    run = store.create_run(
        target_path="t.py", target_source="", seed=1, config={"pair": (1, 2)}
    )

    assert run.config == {"pair": [1, 2]}
    assert store.run(run.run_id) == run


# The tables and marks exactly as the version 1 schema code wrote them, kept
# here so that the upgrade is tested against a file that code made.
VERSION_1_SCHEMA = """
CREATE TABLE evolver_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE CHECK (typeof(run_id) = 'text'),
    created REAL NOT NULL CHECK (typeof(created) = 'real'),
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
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
INSERT INTO evolver_meta (key, value) VALUES ('application', 'evolver-archive');
INSERT INTO evolver_meta (key, value) VALUES ('schema_version', '1');
PRAGMA application_id = 1163284300;
PRAGMA user_version = 1;
"""


def write_version_1(path: Path) -> None:
    """Write a version 1 archive with one run of two candidates, in WAL mode."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.executescript(VERSION_1_SCHEMA)
    raw.execute(
        "INSERT INTO runs (run_id, created, status, target_path, target_source,"
        " seed, config, summary) VALUES"
        " ('r0001', 1.5, 'finished', 't.py', 'x = 1\n', 3, '{}', '{}')"
    )
    for index in range(2):
        raw.execute(
            "INSERT INTO candidates (run_id, candidate_id, generation,"
            " source_hash, source, genome, parents, operator, outcome, failures,"
            " cost, edits, detail, created) VALUES"
            f" ('r0001', 'c{index}', 0, 'h{index}', 'x = {index}\n', '[]', '[]',"
            " 'original', 'ok', 0, 10.0, 0, '{}', 2.5)"
        )
    raw.close()


def schema_marks(path: Path) -> tuple[int, str, set[str]]:
    raw = sqlite3.connect(path)
    version = raw.execute("PRAGMA user_version").fetchone()[0]
    meta = dict(raw.execute("SELECT key, value FROM evolver_meta"))
    tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    return version, meta["schema_version"], tables


def gated(store: Archive) -> RunRecord:
    run = fill(store, generations=2, size=3)
    passing = {"suite": {"status": "pass"}}
    failing = {"cost": {"status": "fail"}}
    store.add_verdict(
        run.run_id, "g1c0", verdict="pass", checks=passing, promoted=True
    )
    store.add_verdict(
        run.run_id, "g1c1", verdict="fail", checks=failing, promoted=False
    )
    return run


def test_verdict_round_trip(store: Archive):
    run = fill(store)
    checks = {"suite": {"status": "pass", "figures": {"seeds": [1, 2]}}}

    stored = store.add_verdict(
        run.run_id, "g1c2", verdict="marginal", checks=checks, promoted=False
    )

    assert isinstance(stored, VerdictRecord)
    assert stored.checks == checks
    assert stored.created > 0
    assert store.verdict(run.run_id, "g1c2") == stored
    assert store.verdict(run.run_id, "g1c1") is None


def test_verdicts_and_promoted(store: Archive):
    run = gated(store)

    verdicts = store.verdicts(run.run_id)
    promoted = store.promoted(run.run_id)

    assert [v.candidate_id for v in verdicts] == ["g1c0", "g1c1"]
    assert [v.verdict for v in verdicts] == ["pass", "fail"]
    assert [v.candidate_id for v in promoted] == ["g1c0"]
    assert promoted[0].promoted is True


def test_verdict_replaced_on_regate(store: Archive):
    run = gated(store)

    store.add_verdict(run.run_id, "g1c0", verdict="fail", checks={}, promoted=False)

    assert store.verdict(run.run_id, "g1c0").verdict == "fail"
    assert store.promoted(run.run_id) == []
    assert [v.candidate_id for v in store.verdicts(run.run_id)] == ["g1c1", "g1c0"]


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"verdict": "maybe", "promoted": False}, "verdict 'maybe' is invalid"),
        ({"verdict": "marginal", "promoted": True}, "cannot be promoted"),
        ({"verdict": "pass", "promoted": 1}, "promoted must be True or False"),
    ],
)
def test_invalid_verdict_rejected(store: Archive, values: dict, match: str):
    run = fill(store)

    with pytest.raises(ArchiveError, match=match):
        store.add_verdict(run.run_id, "g1c0", checks={}, **values)
    assert store.verdicts(run.run_id) == []


def test_verdict_needs_candidate(store: Archive):
    run = fill(store)

    with pytest.raises(ArchiveError, match="no candidate 'nope' in run"):
        store.add_verdict(run.run_id, "nope", verdict="pass", checks={}, promoted=True)
    with pytest.raises(ArchiveError, match="no run 'r-missing'"):
        store.verdicts("r-missing")


def test_verdict_checks_must_be_json(store: Archive):
    run = fill(store)

    with pytest.raises(ArchiveError, match="checks is not JSON-compatible"):
        store.add_verdict(
            run.run_id, "g1c0", verdict="pass", checks={"x": {1, 2}}, promoted=True
        )


def test_version_1_upgraded_on_write(path: Path):
    path.parent.mkdir(parents=True)
    write_version_1(path)

    with Archive.open(path) as store:
        candidates = store.candidates("r0001")
        store.add_verdict("r0001", "c1", verdict="pass", checks={}, promoted=True)
        promoted = store.promoted("r0001")

    version, meta_version, tables = schema_marks(path)
    assert version == SCHEMA_VERSION
    assert meta_version == str(SCHEMA_VERSION)
    assert "verdicts" in tables
    assert [c.candidate_id for c in candidates] == ["c0", "c1"]
    assert candidates[1].source == "x = 1\n"
    assert [v.candidate_id for v in promoted] == ["c1"]


def test_version_1_read_as_is(path: Path):
    path.parent.mkdir(parents=True)
    write_version_1(path)

    with Archive.open(path, readonly=True) as store:
        runs = store.runs()
        verdicts = store.verdicts("r0001")
        verdict = store.verdict("r0001", "c0")
        promoted = store.promoted("r0001")

    assert [run.run_id for run in runs] == ["r0001"]
    assert verdicts == []
    assert verdict is None
    assert promoted == []
    version, meta_version, tables = schema_marks(path)
    assert (version, meta_version) == (1, "1")
    assert "verdicts" not in tables


def test_failed_upgrade_changes_nothing(path: Path):
    path.parent.mkdir(parents=True)
    write_version_1(path)
    raw = sqlite3.connect(path, isolation_level=None)
    # A table that the migration's index creation cannot use makes it fail
    # after the verdicts table was created inside the transaction.
    raw.execute("CREATE TABLE verdicts_by_run (x)")
    raw.close()

    with pytest.raises(ArchiveError) as info:
        Archive.open(path)

    message = str(info.value)
    assert f"from schema version 1 to {SCHEMA_VERSION} failed" in message
    assert "left unchanged at version 1" in message
    version, meta_version, tables = schema_marks(path)
    assert (version, meta_version) == (1, "1")
    assert "verdicts" not in tables
    with Archive.open(path, readonly=True) as store:
        assert len(store.candidates("r0001")) == 2


def test_new_archive_matches_upgraded(tmp_path: Path):
    upgraded = tmp_path / "upgraded.sqlite"
    write_version_1(upgraded)
    Archive.open(upgraded).close()
    with Archive.open(tmp_path / "new.sqlite"):
        pass

    def schema(path: Path) -> list[tuple[str, str]]:
        raw = sqlite3.connect(path)
        rows = raw.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
        raw.close()
        return rows

    assert schema(upgraded) == schema(tmp_path / "new.sqlite")
