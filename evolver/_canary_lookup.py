"""Finding the archive, the run and the candidate that a command names.

`canary`, `review`, `show`, `export` and `apply` all take `--archive PATH`: an
archive file, or a folder or configuration file as `evolver run` takes, whose
configured archive is used. Without it they look in the current folder. A
candidate is named by its id, a unique prefix of it, or `RUN:ID`. Without a run
id, the newest run is used.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from archive import Archive, ArchiveError, CandidateRecord, RunRecord

from ._canary_config import CanaryConfig, load_canary_config
from ._config import build_config, find_config_file, read_config_file
from ._errors import ConfigError

__all__ = [
    "ArchiveLocation",
    "canary_config_for",
    "find_archive",
    "open_archive",
    "original_of",
    "resolve_candidate",
    "resolve_run",
]

#: Where an archive is looked for inside a folder that has no configuration file.
_ARCHIVE_NAMES = (".evolver/archive.sqlite", "archive.sqlite")

#: Shortest candidate id prefix that is looked up as a prefix.
MIN_PREFIX = 4

#: Ids listed as the nearest ones in an error for an unknown id.
NEAREST_SHOWN = 5


@dataclass(frozen=True)
class ArchiveLocation:
    """The archive a command uses, and the configuration file that named it, if any."""

    path: Path
    config_file: Path | None


def find_archive(location: Path | None) -> ArchiveLocation:
    """Resolve `--archive PATH` (or the current folder) to an existing archive file.

    Raises ConfigError naming every place it looked when no archive is there.
    """
    folder_or_file = location if location is not None else Path.cwd()
    if not folder_or_file.exists():
        raise ConfigError(
            f"{folder_or_file} does not exist. Pass --archive with an archive file, "
            "or a folder or configuration file as evolver run takes."
        )
    looked = []
    if folder_or_file.is_file() and folder_or_file.suffix != ".toml":
        return ArchiveLocation(folder_or_file, None)

    config_file = find_config_file(folder_or_file)
    if config_file is not None:
        values = read_config_file(config_file)
        config = build_config(values, {}, config_file.parent, str(config_file))
        if config.archive_path.is_file():
            return ArchiveLocation(config.archive_path, config_file)
        looked.append(f"{config.archive_path} (the archive {config_file} configures)")
    if folder_or_file.is_dir():
        for name in _ARCHIVE_NAMES:
            candidate = folder_or_file / name
            if candidate.is_file():
                return ArchiveLocation(candidate, config_file)
            if not any(entry.startswith(f"{candidate} ") for entry in looked):
                looked.append(str(candidate))
    raise ConfigError(
        f"No archive found. Looked at: {', '.join(looked)}. Run evolver run first, or "
        "pass --archive with the archive file or the folder of the run's evolver.toml."
    )


def open_archive(location: ArchiveLocation, *, readonly: bool) -> Archive:
    """Open the archive, turning its errors into input errors."""
    try:
        return Archive.open(location.path, readonly=readonly)
    except ArchiveError as error:
        raise ConfigError(str(error)) from error


def resolve_run(archive: Archive, run_id: str | None) -> RunRecord:
    """Return the named run, or the newest one when `run_id` is None."""
    if run_id is None:
        run = archive.latest_run()
        if run is None:
            raise ConfigError(
                f"The archive {archive.path} has no runs yet. Start one with "
                "evolver run."
            )
        return run
    try:
        return archive.run(run_id)
    except ArchiveError as error:
        raise ConfigError(f"{error} Pass one of those run ids.") from error


def resolve_candidate(archive: Archive, spec: str) -> tuple[RunRecord, CandidateRecord]:
    """Find the candidate named by `spec`: `ID`, `RUN:ID`, or a unique id prefix."""
    run_id, _, candidate_id = spec.rpartition(":")
    if not candidate_id:
        raise ConfigError(
            f"Invalid candidate {spec!r}: give a candidate id, such as "
            "3fa2c1d0e9ab, or RUN:ID, such as r1a2b3c4d:3fa2c1d0e9ab."
        )
    run = resolve_run(archive, run_id or None)
    candidates = archive.candidates(run.run_id)
    ids = [candidate.candidate_id for candidate in candidates]

    exact = [c for c in candidates if c.candidate_id == candidate_id]
    if exact:
        return run, exact[0]
    matches = [c for c in candidates if c.candidate_id.startswith(candidate_id)]
    if len(matches) == 1 and len(candidate_id) >= MIN_PREFIX:
        return run, matches[0]
    if len(matches) > 1:
        shown = ", ".join(c.candidate_id for c in matches[:NEAREST_SHOWN])
        raise ConfigError(
            f"The id {candidate_id!r} is a prefix of {len(matches)} candidates of run "
            f"{run.run_id}: {shown}. Give more of the id."
        )
    raise ConfigError(_unknown_candidate(archive, run, candidate_id, ids))


def _unknown_candidate(
    archive: Archive, run: RunRecord, wanted: str, ids: list[str]
) -> str:
    gated = [verdict.candidate_id for verdict in archive.verdicts(run.run_id)]
    nearest = difflib.get_close_matches(wanted, ids, n=NEAREST_SHOWN, cutoff=0.3)
    shown = nearest or gated[:NEAREST_SHOWN] or ids[:NEAREST_SHOWN]
    listed = (
        f" Nearest ids: {', '.join(shown)}." if shown else " The run has no candidates."
    )
    return (
        f"No candidate {wanted!r} in run {run.run_id} of the archive {archive.path}."
        f"{listed} List the gated ones with evolver review --all {run.run_id}."
    )


def original_of(archive: Archive, run: RunRecord) -> CandidateRecord | None:
    """Return the run's evaluation of the original target, if it was stored."""
    for candidate in archive.candidates(run.run_id, generation=0):
        if candidate.operator == "original":
            return candidate
    return None


def canary_config_for(
    location: ArchiveLocation, run: RunRecord
) -> tuple[CanaryConfig, str]:
    """Read the `[canary]` table that applies to a run.

    The configuration file that named the archive comes first, then one in the
    target's folder, then the defaults. Returns the configuration and its source.
    """
    if location.config_file is not None:
        return load_canary_config(location.config_file)
    return load_canary_config(Path(run.target_path).parent)
