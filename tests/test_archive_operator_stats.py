"""The archive's operator statistics: storage, checks and the upgrade to version 3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archive import SCHEMA_VERSION, Archive, ArchiveError, OperatorStatsRecord

from .test_archive import make_candidate, new_run, schema_marks, write_version_1


def stats(run_id: str, generation: int) -> list[OperatorStatsRecord]:
    return [
        OperatorStatsRecord(run_id, generation, "binary_operator", 3, 1, 0.25),
        OperatorStatsRecord(run_id, generation, "bind_local", 0, 0, 0.75),
    ]


def test_operator_stats_round_trip(tmp_path: Path):
    with Archive.open(tmp_path / "archive.sqlite") as store:
        run = new_run(store)
        for generation in (0, 1):
            batch = [make_candidate(run.run_id, generation, 0)]
            store.add_generation(run.run_id, generation, batch, stats(run.run_id, generation))
        stored = store.operator_stats(run.run_id)
    assert stored == stats(run.run_id, 0) + stats(run.run_id, 1)


def test_bad_operator_stats_store_nothing(tmp_path: Path):
    with Archive.open(tmp_path / "archive.sqlite") as store:
        run = new_run(store)
        batch = [make_candidate(run.run_id, 1, 0)]
        too_many = [OperatorStatsRecord(run.run_id, 1, "bind_local", 1, 2, 0.5)]
        with pytest.raises(ArchiveError, match="improvements must be between 0 and uses"):
            store.add_generation(run.run_id, 1, batch, too_many)
        wrong_generation = stats(run.run_id, 2)
        with pytest.raises(ArchiveError, match="Store each generation's statistics"):
            store.add_generation(run.run_id, 1, batch, wrong_generation)
        bad_share = [OperatorStatsRecord(run.run_id, 1, "bind_local", 1, 0, 1.5)]
        with pytest.raises(ArchiveError, match="use a number from 0 to 1"):
            store.add_generation(run.run_id, 1, batch, bad_share)
        assert store.candidates(run.run_id) == []
        assert store.operator_stats(run.run_id) == []


def write_version_2(path: Path) -> None:
    """Write a version 2 archive: a version 1 file that a version 2 evolver upgraded."""
    write_version_1(path)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.executescript(
        """
        CREATE TABLE verdicts (
            seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, candidate_id TEXT NOT NULL,
            verdict TEXT NOT NULL, checks TEXT NOT NULL, promoted INTEGER NOT NULL,
            created REAL NOT NULL, UNIQUE (run_id, candidate_id)
        );
        UPDATE evolver_meta SET value = '2' WHERE key = 'schema_version';
        PRAGMA user_version = 2;
        """
    )
    raw.close()


def test_version_2_upgraded_on_write(tmp_path: Path):
    path = tmp_path / "archive.sqlite"
    write_version_2(path)
    with Archive.open(path, readonly=True) as reader:
        assert reader.operator_stats("r0001") == []
    assert "operator_stats" not in schema_marks(path)[2]

    with Archive.open(path) as store:
        store.add_generation("r0001", 2, [make_candidate("r0001", 2, 5)], stats("r0001", 2))
        stored = store.operator_stats("r0001")
        candidates = store.candidates("r0001")

    version, meta_version, tables = schema_marks(path)
    assert SCHEMA_VERSION == 3
    assert version == 3
    assert meta_version == "3"
    assert "operator_stats" in tables
    assert stored == stats("r0001", 2)
    assert [c.candidate_id for c in candidates] == ["c0", "c1", "g2c5"]


def test_failed_upgrade_to_3_changes_nothing(tmp_path: Path):
    path = tmp_path / "archive.sqlite"
    write_version_2(path)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE operator_stats_by_run (x)")
    raw.close()
    with pytest.raises(ArchiveError, match="from schema version 2 to 3 failed"):
        Archive.open(path)
    version, meta_version, tables = schema_marks(path)
    assert version == 2
    assert meta_version == "2"
    assert "operator_stats" not in tables
