"""From a run to a commit: canary, review, show, export and apply, with real git."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from archive import Archive
from evolver._canary_command import add_canary_parser, canary_command
from evolver._canary_patch import FALLBACK_AUTHOR, _author, locate_target
from evolver._errors import EvolverError
from evolver._review_command import add_review_parser, review_command
from fitness import EvaluationSettings, Suite, evaluate

EXIT_USAGE = 2
EXIT_TESTS_FAILED = 3

# `mean` sorts a copy it never uses, so many edits make it cheaper without
# changing what it returns, and a short search finds some of them.
TARGET = '''\
"""Small measures of lists of integers."""


def mean(values):
    """Return the arithmetic mean, or 0.0 for an empty list."""
    copy = sorted(values * 20, reverse=True)
    if not values:
        return 0.0
    return sum(values) / len(values)
'''

SUITE = """\
from hypothesis import given, strategies as st

import measures


@given(st.lists(st.integers(0, 100), max_size=10))
def test_mean_is_between_extremes(values):
    result = measures.mean(values)
    if values:
        assert min(values) <= result <= max(values)
    else:
        assert result == 0.0


def test_known_mean():
    assert measures.mean([1, 2, 3, 6]) == 3.0


def bench_mean():
    for size in range(0, 400, 40):
        measures.mean(list(range(size)))
"""

CONFIG = """\
target = "measures.py"
suite = "test_measures.py"
budget = 16
population = 8
seed = 1
max_examples = 5
workers = 2

[canary]
seeds = 1
examples_factor = 4
"""

AUTHOR = ("Ada Reviewer", "ada@example.test")


def cli(*argv: str) -> tuple[int, str, str]:
    """Run a gate or review command through a parser wired as evolver.cli wires it."""
    parser = argparse.ArgumentParser(prog="evolver")
    commands = parser.add_subparsers(dest="command", required=True)
    add_canary_parser(commands)
    add_review_parser(commands)
    arguments = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            if arguments.command == "canary":
                code = canary_command(arguments)
            else:
                code = review_command(arguments)
        except EvolverError as error:
            print(f"evolver: {error}", file=sys.stderr)
            code = error.exit_code
    return code, out.getvalue(), err.getvalue()


def git(folder: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(folder), *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


class Project:
    """A git repository with the target in `pkg/`, a finished run and its verdicts."""

    summary: dict
    #: Ids of the variants the run reported as improved, which were gated.
    improved: list[str]
    verdicts: list[dict]
    promoted: list[str]

    def __init__(self, repository: Path) -> None:
        self.repository = repository
        self.package = repository / "pkg"
        self.archive = self.package / ".evolver" / "archive.sqlite"

    def cli(self, *argv: str) -> tuple[int, str, str]:
        return cli(*argv, "--archive", str(self.package))

    def json(self, *argv: str) -> dict:
        code, out, err = self.cli(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """Make the repository, run evolver on it, and gate the variants that improved."""
    root = tmp_path_factory.mktemp("review")
    empty_config = root / "gitconfig"
    empty_config.write_text("")
    with pytest.MonkeyPatch.context() as patch:
        # The user's own git configuration must not decide who the author is.
        patch.setenv("GIT_CONFIG_GLOBAL", str(empty_config))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        repository = root / "repo"
        package = repository / "pkg"
        package.mkdir(parents=True)
        (package / "measures.py").write_text(TARGET)
        (package / "test_measures.py").write_text(SUITE)
        (package / "evolver.toml").write_text(CONFIG)
        (repository / ".gitignore").write_text(".evolver/\n")
        git(repository, "init", "-q", "-b", "main")
        git(repository, "config", "user.name", AUTHOR[0])
        git(repository, "config", "user.email", AUTHOR[1])
        git(repository, "add", ".")
        git(repository, "commit", "-q", "-m", "Add measures")

        run = subprocess.run(
            [sys.executable, "-m", "evolver", "run", str(package), "--finalists", "0", "--json"],
            check=False,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)
        improved = [
            entry["candidate_id"] for entry in summary["best"] if entry["improved"]
        ]
        assert improved, "the search found no cheaper variant to gate"
        project = Project(repository)
        project.summary = summary
        project.improved = improved
        code, out, err = project.cli("canary", *improved, "--json")
        assert code == 0, err
        project.verdicts = json.loads(out)["verdicts"]
        project.promoted = [
            v["candidate_id"] for v in project.verdicts if v["promoted"]
        ]
        assert project.promoted, project.verdicts
        yield project


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch, tmp_path):
    empty_config = tmp_path / "gitconfig"
    empty_config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty_config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def test_canary_stores_verdicts(project: Project):
    run_id = project.summary["run_id"]

    with Archive.open(project.archive, readonly=True) as store:
        stored = {v.candidate_id: v for v in store.verdicts(run_id)}
        promoted = [v.candidate_id for v in store.promoted(run_id)]

    assert set(stored) == set(project.improved)
    assert promoted == project.promoted
    for verdict in project.verdicts:
        record = stored[verdict["candidate_id"]]
        assert record.verdict == verdict["verdict"]
        assert list(record.checks) == ["suite", "differential", "cost", "limits"]
        assert record.checks["cost"]["figures"]["meter"] == "fuel"


def test_review_lists_promoted(project: Project):
    listed = project.json("review")
    everything = project.json("review", "--all")

    assert listed["run_id"] == project.summary["run_id"]
    assert [row["candidate_id"] for row in listed["variants"]] == project.promoted
    gated = {row["candidate_id"]: row for row in everything["variants"]}
    assert set(project.improved) <= set(gated)
    for candidate_id, row in gated.items():
        assert row["promoted"] is (candidate_id in project.promoted)
    first = listed["variants"][0]
    assert first["verdict"] == "pass"
    assert first["target"] == "measures.py (mean)"
    assert first["failures"] == {"original": 0, "candidate": 0}
    assert first["cost"]["gate_change"] < -0.01
    assert first["lines_added"] >= 1


def test_review_table_for_people(project: Project):
    code, out, _ = project.cli("review")

    assert code == 0
    assert f"Run {project.summary['run_id']}:" in out
    assert project.promoted[0] in out


def test_show_diff_and_evidence(project: Project):
    candidate_id = project.promoted[0]

    shown = project.json("show", candidate_id[:6])
    code, out, _ = project.cli("show", candidate_id)

    assert shown["candidate_id"] == candidate_id
    assert shown["diff"].startswith("diff --git a/measures.py b/measures.py\n")
    assert shown["verdict"]["verdict"] == "pass"
    assert shown["parents"]
    assert shown["edits"]
    assert code == 0
    changed = [
        line
        for line in shown["diff"].splitlines()[3:]
        if line.startswith(("+", "-")) and line.strip("+- ")
    ]
    assert changed[0] in out
    assert "differential" in out
    assert "pass (promoted)" in out


def test_export_applies_with_git_am(project: Project, tmp_path: Path, wasm_sandbox):
    candidate_id = project.promoted[0]
    patch_file = tmp_path / "variant.patch"
    clone = tmp_path / "clone"

    code, out, err = project.cli("export", candidate_id, "-o", str(patch_file))
    git(tmp_path, "clone", "-q", str(project.repository), str(clone))
    git(
        clone,
        "-c",
        "user.name=Tester",
        "-c",
        "user.email=t@example.test",
        "am",
        str(patch_file),
    )

    assert code == 0, err
    text = patch_file.read_text()
    assert text.startswith("From 0000000000000000000000000000000000000000 ")
    assert f"From: {AUTHOR[0]} <{AUTHOR[1]}>\n" in text
    assert "Subject: [PATCH] Cut the benchmark fuel of measures.py by " in text
    assert "diff --git a/pkg/measures.py b/pkg/measures.py\n" in text
    log = git(clone, "log", "-1", "--format=%an <%ae>%n%s%n%b")
    assert log.startswith(f"{AUTHOR[0]} <{AUTHOR[1]}>\nCut the benchmark fuel of")
    assert "Canary gate:" in log
    applied = (clone / "pkg" / "measures.py").read_text()
    with Archive.open(project.archive, readonly=True) as store:
        stored = store.candidate(project.summary["run_id"], candidate_id)
    assert applied == stored.source
    suite = Suite.from_file(clone / "pkg" / "test_measures.py")
    evaluation = evaluate(
        wasm_sandbox, applied, "measures", suite, EvaluationSettings()
    )
    assert evaluation.passed


def test_export_to_stdout(project: Project):
    code, out, _ = project.cli("export", project.promoted[0])

    assert code == 0
    assert out.startswith("From 0000000000000000000000000000000000000000 ")
    assert out.endswith("-- \nevolver 0.1.0\n")


def test_apply_makes_branch(project: Project):
    candidate_id = project.promoted[0]
    branch = "evolver/test-apply"
    head = git(project.repository, "rev-parse", "HEAD").strip()

    result = project.json("apply", candidate_id, "--branch", branch)

    assert result["branch"] == branch
    assert git(project.repository, "rev-parse", "HEAD").strip() == head
    assert git(project.repository, "rev-parse", f"{branch}~1").strip() == head
    assert git(project.repository, "status", "--porcelain") == ""
    committed = git(project.repository, "show", f"{branch}:pkg/measures.py")
    with Archive.open(project.archive, readonly=True) as store:
        stored = store.candidate(project.summary["run_id"], candidate_id)
    assert committed == stored.source
    author = git(project.repository, "log", "-1", "--format=%an <%ae>", branch).strip()
    assert author == f"{AUTHOR[0]} <{AUTHOR[1]}>"


def test_apply_rejections(project: Project):
    candidate_id = project.promoted[0]
    target = project.package / "measures.py"
    repository = project.repository
    project.json("apply", candidate_id, "--branch", "evolver/taken")

    taken = project.cli("apply", candidate_id, "--branch", "evolver/taken")
    invalid = project.cli("apply", candidate_id, "--branch", "bad..name")
    target.write_text(TARGET + "\n# local change\n")
    dirty = project.cli("apply", candidate_id, "--branch", "evolver/dirty")
    target.write_text(TARGET.replace("values * 20", "values * 30"))
    git(repository, "commit", "-q", "-am", "Change the copy")
    moved = project.cli("apply", candidate_id, "--branch", "evolver/moved")
    git(repository, "reset", "-q", "--hard", "HEAD~1")

    assert taken[0] == EXIT_USAGE
    assert "The branch evolver/taken already exists" in taken[2]
    assert invalid[0] == EXIT_USAGE
    assert "Invalid branch name 'bad..name'" in invalid[2]
    assert dirty[0] == EXIT_USAGE
    assert "has changes to pkg/measures.py" in dirty[2]
    assert "Commit or stash them first" in dirty[2]
    assert moved[0] == EXIT_USAGE
    assert "The patch no longer applies to pkg/measures.py" in moved[2]
    branches = git(repository, "branch", "--list", "evolver/dirty", "evolver/moved")
    assert branches == ""


def test_export_rejects_ungated(project: Project):
    run_id = project.summary["run_id"]
    with Archive.open(project.archive, readonly=True) as store:
        gated = {v.candidate_id for v in store.verdicts(run_id)}
        ungated = [
            c.candidate_id
            for c in store.candidates(run_id)
            if c.candidate_id not in gated and c.source
        ][0]

    code, _, err = project.cli("export", ungated)

    assert code == EXIT_USAGE
    assert f"Candidate {run_id}:{ungated} has not been through the canary gate" in err
    assert f"evolver canary {run_id}:{ungated}" in err


def test_unknown_id_lists_nearest(project: Project):
    known = project.promoted[0]

    code, _, err = project.cli("show", known[:-1] + ("0" if known[-1] != "0" else "1"))

    assert code == EXIT_USAGE
    assert "No candidate" in err
    assert f"Nearest ids: {known}" in err


def test_no_archive_says_where(tmp_path: Path):
    code, _, err = cli("review", "--archive", str(tmp_path))

    assert code == EXIT_USAGE
    assert f"Looked at: {tmp_path / '.evolver' / 'archive.sqlite'}" in err
    assert str(tmp_path / "archive.sqlite") in err


def test_canary_check_fails_original(project: Project):
    run_id = project.summary["run_id"]
    with Archive.open(project.archive, readonly=True) as store:
        original = store.candidates(run_id, generation=0)[0].candidate_id

    code, out, _ = project.cli("canary", f"{run_id}:{original}", "--check", "--json")

    assert code == EXIT_TESTS_FAILED
    verdict = json.loads(out)["verdicts"][0]
    assert verdict["verdict"] == "fail"
    assert verdict["checks"]["cost"]["status"] == "fail"
    assert (
        "short of the required 1.00% less"
        in verdict["checks"]["cost"]["counterexample"]
    )


def test_author_falls_back(tmp_path: Path):
    git(tmp_path, "init", "-q")
    (tmp_path / "mod.py").write_text("x = 1\n")

    target = locate_target(tmp_path / "mod.py")

    assert target.path == "mod.py"
    assert os.path.samefile(target.repository, tmp_path)
    assert _author(target.repository) == FALLBACK_AUTHOR
