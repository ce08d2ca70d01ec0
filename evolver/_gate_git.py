"""Checking out a git revision in a temporary worktree, for `--baseline-ref`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._gate_errors import GateError


@dataclass(frozen=True)
class Checkout:
    """A revision checked out beside a repository."""

    #: The top folder of the repository that the working tree belongs to.
    repository: Path
    #: The top folder of the temporary worktree.
    folder: Path
    #: The full commit id that `ref` named.
    commit: str
    ref: str


@contextmanager
def checkout(location: Path, ref: str) -> Iterator[Checkout]:
    """Check out `ref` of the repository containing `location` in a temporary worktree.

    The worktree is detached, so no branch is created or moved, and git hooks are
    off for it, so the user's post-checkout hooks do not run on it. It is removed
    when the block ends, also when the block raises.
    """
    repository = Path(_git(location, "rev-parse", "--show-toplevel")).resolve()
    commit = _resolve(repository, ref)
    scratch = Path(tempfile.mkdtemp(prefix="evolver-gate-"))
    folder = scratch / "tree"
    try:
        _git(repository, "worktree", "add", "--detach", "--quiet", str(folder), commit)
        yield Checkout(repository=repository, folder=folder, commit=commit, ref=ref)
    finally:
        _remove(repository, folder)
        shutil.rmtree(scratch, ignore_errors=True)


def _resolve(repository: Path, ref: str) -> str:
    if ref.startswith("-"):
        raise GateError(
            f"Invalid value {ref!r} for --baseline-ref: use a git revision such as "
            "HEAD~1, main or a commit id, not an option."
        )
    try:
        return _git(repository, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GateError as error:
        raise GateError(
            f"The git revision {ref!r} given to --baseline-ref is not found in "
            f"{repository}. Fetch it first (a shallow clone may lack it: run git "
            "fetch --unshallow, or check out the full history in CI), or name another "
            "revision."
        ) from error


def _remove(repository: Path, folder: Path) -> None:
    try:
        _git(repository, "worktree", "remove", "--force", str(folder))
    except GateError:
        # The folder may be half made; delete it and let git forget it.
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(
            ["git", "-C", str(repository), "worktree", "prune"],
            capture_output=True,
            check=False,
        )


def _git(folder: Path, *arguments: str) -> str:
    command = [
        "git",
        "-c",
        f"core.hooksPath={os.devnull}",
        "-C",
        str(folder),
        *arguments,
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise GateError(
            "git is not installed or not on PATH, and --baseline-ref needs it. Install "
            "git, or record a baseline file with --update-baseline instead."
        ) from error
    if completed.returncode != 0:
        message = completed.stderr.strip() or f"exit status {completed.returncode}"
        raise GateError(
            f"git {' '.join(arguments[:2])} failed in {folder}: {message}. "
            "--baseline-ref needs the configuration inside a git repository."
        )
    return completed.stdout.strip()
