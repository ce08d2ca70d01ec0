"""SQLite store of evolution runs, their candidates, lineage and gate verdicts.

The archive stores plain data (str, int, float, JSON-compatible dicts and
lists) and imports none of the other evolver packages. `Archive.open` gives
an archive file; `RunRecord`, `CandidateRecord` and `VerdictRecord` are what
it stores.
"""

from ._archive import Archive
from ._errors import ArchiveError
from ._operator_stats import OperatorStatsRecord
from ._records import (
    RUN_STATUSES,
    VERDICTS,
    CandidateRecord,
    RunRecord,
    VerdictRecord,
)
from ._schema import SCHEMA_VERSION

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "VERDICTS",
    "Archive",
    "ArchiveError",
    "CandidateRecord",
    "OperatorStatsRecord",
    "RunRecord",
    "VerdictRecord",
]
