"""The archive's one exception type, and its messages for SQLite errors."""

from __future__ import annotations

import sqlite3
from typing import Final

__all__ = ["ArchiveError", "sqlite_failure"]

#: Advice added to errors that SQLite raises, keyed by its primary result code.
_SQLITE_ADVICE: Final = {
    "SQLITE_BUSY": "Another process held the archive locked for too long. Wait"
    " for it to finish, or use another archive file.",
    "SQLITE_CORRUPT": "The file is damaged. Move it away and point evolver at a"
    " new archive file.",
    "SQLITE_NOTADB": "The file is damaged. Move it away and point evolver at a"
    " new archive file.",
    "SQLITE_FULL": "The disk is full. Free some space and try again.",
    "SQLITE_READONLY": "The file or its folder is read-only. Fix the permissions,"
    " or choose another archive path.",
}


class ArchiveError(RuntimeError):
    """An archive file could not be opened, read or written, or a call was invalid.

    The message names the archive file and the step that fixes the problem.
    """


def sqlite_failure(exc: sqlite3.Error, action: str) -> ArchiveError:
    """Return an ArchiveError for an error that SQLite raised during `action`."""
    # Extended result codes such as SQLITE_BUSY_SNAPSHOT share the advice of
    # their primary code, the first two parts of the name.
    name = getattr(exc, "sqlite_errorname", None) or ""
    advice = _SQLITE_ADVICE.get("_".join(name.split("_")[:2]), "")
    return ArchiveError(f"{action} failed: {exc}. {advice}".rstrip())
