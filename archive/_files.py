"""Checks on an archive's path and file, made before SQLite opens it.

SQLite reports a foreign or damaged file only when a query first touches the
bad part, and it reports an unwritable folder only at the first write. These
checks find such problems up front and name the path in the error.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Final

from ._errors import ArchiveError

__all__ = [
    "check_file_header",
    "check_readable",
    "prepare_writable",
    "reject_file",
]

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_MAGIC: Final = b"SQLite format 3\x00"

#: Length of the SQLite file header, which contains the page size and page count.
HEADER_SIZE: Final = 100

#: Length of a WAL file's header. A longer WAL file contains frames.
WAL_HEADER_SIZE: Final = 32


def reject_file(path: Path, reason: str) -> ArchiveError:
    """Return the error for a file at `path` that is not a usable archive."""
    msg = (
        f"{path} is not an evolver archive: {reason}. Point evolver at another"
        " archive file, or move this file away so that a new archive can be"
        " created in its place."
    )
    return ArchiveError(msg)


def check_readable(path: Path) -> None:
    """Raise ArchiveError unless `path` is an existing file this process can read."""
    if path.is_dir():
        raise _folder_given(path)
    if not path.exists():
        msg = f"no archive at {path}: the file does not exist. Check the path."
        raise ArchiveError(msg)
    if not os.access(path, os.R_OK):
        msg = f"the archive {path} is not readable. Fix its permissions."
        raise ArchiveError(msg)


def prepare_writable(path: Path) -> None:
    """Create the folder of `path` if missing and check that both can be written.

    SQLite in WAL mode creates `<name>-wal` and `<name>-shm` beside the
    archive, so the folder must be writable even when the file already exists.
    """
    if path.is_dir():
        raise _folder_given(path)

    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"cannot create the folder {folder} for the archive {path}:"
            f" {exc.strerror or exc}. Choose an archive path in a writable folder."
        )
        raise ArchiveError(msg) from exc

    if not os.access(folder, os.W_OK | os.X_OK):
        msg = (
            f"the folder {folder} is not writable, so the archive {path} cannot be"
            " written there. Choose an archive path in a writable folder, or open"
            " the archive read-only."
        )
        raise ArchiveError(msg)
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        msg = (
            f"the archive file {path} is not writable. Fix its permissions, choose"
            " another archive path, or open the archive read-only."
        )
        raise ArchiveError(msg)


def check_file_header(path: Path) -> None:
    """Raise ArchiveError if the file at `path` is not a whole SQLite database.

    A missing or empty file passes, because opening it for writing creates a
    new archive. Otherwise the file must start with the SQLite header, and its
    size must be a whole number of pages and at least the page count that the
    header records, so a truncated archive is found before it is misread.
    """
    # The WAL file is checked before the header is read. A checkpoint copies
    # pages from the WAL into the database file, and page 1 with the new page
    # count can land before the pages that extend the file.
    wal_has_frames = _wal_size(path) > WAL_HEADER_SIZE
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            header = file.read(HEADER_SIZE)
    except FileNotFoundError:
        return
    except OSError as exc:
        msg = f"cannot read the archive {path}: {exc.strerror or exc}."
        raise ArchiveError(msg) from exc
    if size == 0:
        return

    if len(header) < HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
        raise reject_file(path, "it is not an SQLite database file")
    page_size = _page_size(header)
    if page_size is None:
        raise reject_file(path, "its SQLite header is damaged")
    if size % page_size:
        reason = (
            f"its size, {size} bytes, is not a whole number of {page_size}-byte"
            " pages, so the file is truncated or damaged"
        )
        raise reject_file(path, reason)

    recorded_pages = _recorded_page_count(header)
    # NOTE: while the WAL contains frames, a truncated file is not detected
    # here, because the WAL may contain pages that the database file lacks. It is
    # then reported as an error on the first read of a missing page.
    if recorded_pages and not wal_has_frames and size < recorded_pages * page_size:
        reason = (
            f"its header records {recorded_pages} pages but the file holds only"
            f" {size // page_size}, so the file is truncated"
        )
        raise reject_file(path, reason)


def _folder_given(path: Path) -> ArchiveError:
    example = path / "archive.sqlite"
    msg = (
        f"{path} is a folder, not an archive file. Give the path of a file in it,"
        f" for example {example}."
    )
    return ArchiveError(msg)


def _wal_size(path: Path) -> int:
    try:
        return os.stat(f"{path}-wal").st_size
    except OSError:
        return 0


def _page_size(header: bytes) -> int | None:
    (raw,) = struct.unpack_from(">H", header, 16)
    # The value 1 means 65536, which does not fit in the two bytes.
    page_size = 65536 if raw == 1 else raw
    if page_size < 512 or page_size & (page_size - 1):
        return None
    return page_size


def _recorded_page_count(header: bytes) -> int:
    """Return the page count in the header, or 0 where SQLite would not trust it.

    SQLite trusts the count only when the change counter (offset 24) equals
    the version-valid-for number (offset 92), which is true for every
    file written by SQLite 3.7.0 or later.
    """
    change_counter, page_count = struct.unpack_from(">II", header, 24)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    if change_counter != valid_for:
        return 0
    return page_count
