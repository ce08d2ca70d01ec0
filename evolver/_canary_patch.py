"""A promoted variant as a git patch: its message, its diff, and applying it.

`build_patch` writes the commit message (a subject naming the target and the gain,
a body with the gate's evidence) and the diff against the target's path in its git
repository. `Patch.to_mbox` renders the `git format-patch` form that `git am`
reads. `apply_patch` makes the commit on a new branch with git's plumbing, in a
temporary index, so the user's index, working tree and current branch stay as
they are.
"""

from __future__ import annotations

import email.header
import email.utils
import hashlib
import importlib.metadata
import os
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive import CandidateRecord, RunRecord, VerdictRecord
from genomes import Edit, unified_diff

from ._canary_verdict import Verdict
from ._errors import ConfigError
from ._progress import format_count

__all__ = [
    "FALLBACK_AUTHOR",
    "Patch",
    "PatchTarget",
    "apply_patch",
    "build_patch",
    "describe_gain",
    "locate_target",
]

#: Author of patches from a repository without a configured user.
FALLBACK_AUTHOR = ("evolver", "evolver@localhost")

#: Width that commit message bodies are wrapped at, as git's documentation advises.
BODY_WIDTH = 72


@dataclass(frozen=True)
class PatchTarget:
    """The target's git repository (None outside one) and its path in it."""

    repository: Path | None
    path: str


@dataclass(frozen=True)
class Patch:
    """One promoted variant as a commit: message, author, date and diff."""

    subject: str
    body: str
    diff: str
    author: tuple[str, str]
    date: datetime
    target: PatchTarget

    @property
    def message(self) -> str:
        return f"{self.subject}\n\n{self.body}"

    def to_mbox(self) -> str:
        """Render the patch as `git format-patch` does, for `git am`."""
        name, address = self.author
        header_author = email.utils.formataddr((name, address), charset="utf-8")
        subject = "[PATCH] " + self.subject
        if not subject.isascii():
            subject = email.header.Header(subject, "utf-8").encode()
        version = importlib.metadata.version("evolver")
        return (
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            f"From: {header_author}\n"
            f"Date: {email.utils.format_datetime(self.date)}\n"
            f"Subject: {subject}\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            f"{self.body}\n"
            "---\n"
            f"{_diffstat(self.diff, self.target.path)}\n"
            f"{self.diff}"
            "-- \n"
            f"evolver {version}\n"
        )


def locate_target(target_path: Path) -> PatchTarget:
    """Find the git repository around the target and the target's path inside it."""
    folder = target_path.parent
    if not folder.is_dir():
        raise ConfigError(
            f"The target's folder {folder} no longer exists, so the patch has nowhere "
            "to apply. Restore the target's repository at that path."
        )
    completed = _git(folder, "rev-parse", "--show-toplevel", check=False)
    if completed.returncode != 0:
        return PatchTarget(None, target_path.name)
    repository = Path(completed.stdout.strip())
    relative = target_path.resolve().relative_to(repository.resolve())
    return PatchTarget(repository, relative.as_posix())


def build_patch(
    run: RunRecord,
    candidate: CandidateRecord,
    verdict: VerdictRecord,
    original: CandidateRecord | None,
    target: PatchTarget,
) -> Patch:
    """Write the commit of a promoted candidate: subject, evidence and diff."""
    gate = Verdict.from_record(verdict)
    name = Path(run.target_path).name
    differential = gate.check("differential")
    functions = differential.figures.get("functions", []) if differential else []
    subject = describe_gain(gate, name)
    if 0 < len(functions) <= 2:
        subject += f" in {' and '.join(functions)}"
    diff = unified_diff(run.target_source, candidate.source, target.path)
    diff = _with_index_line(diff, run.target_source, candidate.source, target)
    return Patch(
        subject=subject,
        body=_body(run, candidate, gate, original, name),
        diff=diff,
        author=_author(target.repository),
        date=datetime.fromtimestamp(verdict.created, tz=UTC),
        target=target,
    )


def describe_gain(verdict: Verdict, name: str) -> str:
    """Say what the variant gains, in the imperative, for a commit subject."""
    suite = verdict.check("suite")
    runs = suite.figures.get("runs", []) if suite else []
    fixed = [run["original"]["failures"] - run["candidate"]["failures"] for run in runs]
    if fixed and min(fixed) > 0:
        tests = "test" if min(fixed) == 1 else "tests"
        return f"Fix {min(fixed)} failing {tests} of {name}"
    cost = verdict.check("cost")
    figures = cost.figures if cost else {}
    if "improvement" in figures:
        return f"Cut the benchmark fuel of {name} by {figures['improvement']:.1%}"
    if "median_change" in figures:
        return f"Speed up {name} by {-figures['median_change']:.1%} (median time)"
    return f"Simplify {name} without changing its behaviour"


def _body(
    run: RunRecord,
    candidate: CandidateRecord,
    gate: Verdict,
    original: CandidateRecord | None,
    name: str,
) -> str:
    parents = ", ".join(candidate.parents) or "none"
    paragraphs = [
        f"evolver made this variant of {name} in run {run.run_id}, and its canary "
        f"gate gave it the verdict {gate.verdict}.",
        f"Candidate {candidate.candidate_id}: generation {candidate.generation}, "
        f"operator {candidate.operator}, parents {parents}.",
    ]
    edits = [Edit.from_json(edit).describe() for edit in candidate.genome]
    lines = ["Edits:"] + [_bullet(text) for text in edits]
    lines += ["", "Canary gate:"]
    lines += [_bullet(f"{c.name} ({c.status}): {c.summary}.") for c in gate.checks]
    if original is not None:
        lines += ["", _search_fitness(candidate, original)]
    wrapped = [textwrap.fill(text, BODY_WIDTH) for text in paragraphs]
    return "\n\n".join(wrapped) + "\n\n" + "\n".join(lines)


def _bullet(text: str) -> str:
    # The hanging indent keeps every continuation line off column 0, so no line of
    # the body can look like the "---" or "diff" lines that end a message.
    return textwrap.fill(text, BODY_WIDTH, initial_indent="- ", subsequent_indent="  ")


def _search_fitness(candidate: CandidateRecord, original: CandidateRecord) -> str:
    def cost(record: CandidateRecord) -> str:
        return "none" if record.cost is None else f"{record.cost:,.0f}"

    failing = format_count(candidate.failures or 0, "failing test")
    text = (
        f"In the search: {failing} (original {original.failures}), cost "
        f"{cost(candidate)} (original {cost(original)}), "
        f"{format_count(candidate.edits, 'edit')}."
    )
    return textwrap.fill(text, BODY_WIDTH)


def _with_index_line(diff: str, before: str, after: str, target: PatchTarget) -> str:
    """Insert the `index OLD..NEW MODE` line that `git am -3` uses, as git writes it."""
    first, _, rest = diff.partition("\n")
    mode = _file_mode(target)
    old, new = _blob_id(before, target), _blob_id(after, target)
    return f"{first}\nindex {old}..{new} {mode}\n{rest}"


def _blob_id(text: str, target: PatchTarget) -> str:
    data = text.encode("utf-8")
    if target.repository is not None:
        # git computes the id with the repository's own hash function.
        completed = _git(target.repository, "hash-object", "--stdin", input_text=text)
        if completed.returncode == 0:
            return completed.stdout.strip()
    return hashlib.sha1(
        b"blob %d\0" % len(data) + data, usedforsecurity=False
    ).hexdigest()


def _file_mode(target: PatchTarget) -> str:
    if target.repository is None:
        return "100644"
    listed = _git(
        target.repository, "ls-files", "--stage", "--", target.path, check=False
    )
    fields = listed.stdout.split()
    return fields[0] if listed.returncode == 0 and fields else "100644"


def _diffstat(diff: str, path: str) -> str:
    lines = diff.splitlines()[4:]
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    insertions = format_count(added, "insertion")
    deletions = format_count(removed, "deletion")
    return (
        f" {path} | {added + removed} {'+' * added}{'-' * removed}\n"
        f" 1 file changed, {insertions}(+), {deletions}(-)\n"
    )


def _author(repository: Path | None) -> tuple[str, str]:
    if repository is None:
        return FALLBACK_AUTHOR
    name = _git(repository, "config", "--get", "user.name", check=False).stdout.strip()
    address = _git(
        repository, "config", "--get", "user.email", check=False
    ).stdout.strip()
    return (name, address) if name and address else FALLBACK_AUTHOR


def apply_patch(patch: Patch, branch: str) -> str:
    """Commit the patch on a new branch `branch` of the target's repository.

    Returns the commit id. Raises ConfigError, and changes nothing, when the
    target has uncommitted changes, the branch exists, or the patch no longer
    applies to HEAD because the target moved on since the run.
    """
    repository = patch.target.repository
    path = patch.target.path
    if repository is None:
        raise ConfigError(
            f"The target {path} is not inside a git repository, so there is no "
            "branch to make. Export the patch with evolver export instead."
        )
    _check_branch(repository, branch)
    changes = _git(repository, "status", "--porcelain", "--", path).stdout
    if changes.strip():
        raise ConfigError(
            f"The working tree of {repository} has changes to {path}:\n"
            f"{changes.rstrip()}\n"
            "Commit or stash them first, so that the new branch starts from them."
        )
    head = _git(
        repository, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False
    )
    if head.returncode != 0:
        raise ConfigError(
            f"The repository {repository} has no commit yet. Commit the target first."
        )

    with tempfile.TemporaryDirectory(prefix="evolver-apply-") as scratch:
        environment = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        diff_file = Path(scratch) / "patch.diff"
        diff_file.write_text(patch.diff, encoding="utf-8")
        _git(repository, "read-tree", "HEAD", env=environment)
        applied = _git(
            repository,
            "apply",
            "--cached",
            str(diff_file),
            env=environment,
            check=False,
        )
        if applied.returncode != 0:
            raise ConfigError(
                f"The patch no longer applies to {path} at HEAD of {repository}, "
                f"because the target changed since the run ({applied.stderr.strip()}). "
                "Run evolver again on the current target."
            )
        tree = _git(repository, "write-tree", env=environment).stdout.strip()
        commit = _commit(repository, patch, tree, head.stdout.strip(), Path(scratch))
    _git(repository, "branch", branch, commit)
    return commit


def _check_branch(repository: Path, branch: str) -> None:
    valid = _git(repository, "check-ref-format", "--branch", branch, check=False)
    if valid.returncode != 0:
        raise ConfigError(
            f"Invalid branch name {branch!r}. Use a name git accepts, such as "
            "evolver/stats-normalise."
        )
    exists = _git(
        repository,
        "rev-parse",
        "--verify",
        "--quiet",
        f"refs/heads/{branch}",
        check=False,
    )
    if exists.returncode == 0:
        raise ConfigError(
            f"The branch {branch} already exists in {repository}. Pass --branch with a "
            "new name, or delete that branch."
        )


def _commit(
    repository: Path, patch: Patch, tree: str, parent: str, scratch: Path
) -> str:
    name, address = patch.author
    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": address,
        "GIT_AUTHOR_DATE": email.utils.format_datetime(patch.date),
    }
    if _author(repository) == FALLBACK_AUTHOR:
        # git rejects a commit without a committer identity.
        environment.setdefault("GIT_COMMITTER_NAME", name)
        environment.setdefault("GIT_COMMITTER_EMAIL", address)
    message_file = scratch / "message"
    message_file.write_text(patch.message, encoding="utf-8")
    arguments = ("commit-tree", tree, "-p", parent, "-F", str(message_file))
    return _git(repository, *arguments, env=environment).stdout.strip()


def _git(
    folder: Path,
    *arguments: str,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    try:
        completed = subprocess.run(
            ["git", "-C", str(folder), *arguments],
            check=False,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            input=input_text,
            timeout=60,
        )
    except FileNotFoundError as error:
        raise ConfigError(
            "git is not installed or not on PATH. Install git."
        ) from error
    if check and completed.returncode != 0:
        raise ConfigError(
            f"git {' '.join(arguments[:2])} failed in {folder}: "
            f"{completed.stderr.strip()}"
        )
    return completed
