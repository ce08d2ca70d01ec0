"""SQLite store of evolution runs, their candidates and lineage.

The archive stores plain data (str, int, float, JSON-compatible dicts and
lists) and imports none of the other evolver packages. `Archive.open` gives
an archive file; `RunRecord` and `CandidateRecord` are what it stores.
"""

from ._archive import Archive
from ._errors import ArchiveError
from ._records import RUN_STATUSES, CandidateRecord, RunRecord
from ._schema import SCHEMA_VERSION

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "CandidateRecord",
    "RunRecord",
]
