"""Unified diffs between a target and a variant, in the form git writes them."""

from __future__ import annotations

import difflib
from pathlib import PurePosixPath

from ._errors import GenomeError

__all__ = ["unified_diff"]

#: Lines of unchanged context around each change, as `git diff` uses by default.
_CONTEXT_LINES = 3
_NO_NEWLINE = "\\ No newline at end of file\n"
_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def unified_diff(original: str, variant: str, path: str) -> str:
    """Return the patch that turns `original` into `variant` for file `path`.

    `path` is relative to the repository root, with `/` between parts. The
    headers are `diff --git a/PATH b/PATH`, `--- a/PATH` and `+++ b/PATH`,
    quoted as git quotes them, so `git apply` accepts the result. Lines are
    split at `\\n` only, and a missing newline at the end of either text is
    marked as git marks it. Returns '' when the texts are equal.
    """
    _check_path(path)
    if original == variant:
        return ""

    old = f"a/{path}"
    new = f"b/{path}"
    parts = [f"diff --git {_quote(old)} {_quote(new)}\n"]
    parts.append(f"--- {_header_name(old)}\n+++ {_header_name(new)}\n")
    lines = difflib.unified_diff(_lines(original), _lines(variant), n=_CONTEXT_LINES)
    # The first two lines are difflib's own ---/+++ headers without names.
    for line in list(lines)[2:]:
        parts.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    return "".join(parts)


def _check_path(path: str) -> None:
    parts = PurePosixPath(path).parts
    if not path or path.startswith("/") or "\\" in path or ".." in parts:
        raise GenomeError(
            f"patch path {path!r} must be a relative path inside the repository, "
            "with '/' between parts and no '..', such as 'src/solver.py'."
        )


def _lines(text: str) -> list[str]:
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _quote(name: str) -> str:
    """Quote `name` as git does if it has `"`, `\\`, control or non-ASCII characters."""
    if not any(_needs_escape(character) for character in name):
        return name
    escaped = []
    for character in name:
        if character in _ESCAPES:
            escaped.append(_ESCAPES[character])
        elif _needs_escape(character):
            escaped.extend(f"\\{byte:03o}" for byte in character.encode("utf-8"))
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _needs_escape(character: str) -> bool:
    return character in _ESCAPES or ord(character) < 0x20 or ord(character) >= 0x7F


def _header_name(name: str) -> str:
    # git ends a ---/+++ name that contains a space with a tab, so that
    # tools reading the line know where the name stops.
    quoted = _quote(name)
    return quoted + "\t" if " " in name and quoted == name else quoted
