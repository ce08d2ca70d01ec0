"""Slow tests on real programs from pyperformance: targets, suites and evolver runs.

The suites under examples/pyperformance are checked with plain CPython through
examples/pyperformance/check.py: they must pass on each unchanged program, fail
on variants that change its results and pass on variants that only rewrite it.
Then ``evolver run`` evolves two of the programs through the command line, and
each reported best candidate is evaluated again with ``evolver eval``.
"""

import contextlib
import importlib.util
import json
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("pyperformance")

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "pyperformance"

#: Seconds allowed for one ``evolver run`` with a budget of 40 on the wasm sandbox.
RUN_TIMEOUT = 1200

#: Seconds allowed for one host check or one ``evolver eval``.
CHECK_TIMEOUT = 600


def load_prepare():
    spec = importlib.util.spec_from_file_location(
        "pyperformance_prepare", EXAMPLES / "prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prepare_module = load_prepare()
PROGRAMS = sorted(prepare_module.PROGRAMS)

#: Variants that change a program's results, as (old, new) source replacements;
#: each must make at least one test of the suite fail.
BROKEN_VARIANTS = {
    "bm_nqueens": [
        [("set(vec[i] + i for", "set(vec[i] - i for")],
        [("cycles[i] = n - i", "cycles[i] = n - i - 1")],
        [("indices[i + 1:] + indices[i:i + 1]", "indices[i:i + 1] + indices[i + 1:]")],
        # Mirrored solutions are solutions too, so only their order changes.
        [("            yield vec\n", "            yield vec[::-1]\n")],
    ],
    "bm_fannkuch": [
        [("flips_count += 1", "flips_count += 2")],
        [("if flips_count > max_flips:", "if flips_count < max_flips:")],
        [("perm1[m] != m:", "perm1[m] != 0:")],
    ],
    "bm_float": [
        [("self.y = cos(i) * 3", "self.y = cos(i) * 2")],
        [("self.z = (x * x) / 2", "self.z = (x * x) / 3")],
        [("self.x if self.x > other.x", "self.x if self.x < other.x")],
        [("for p in points[1:]:", "for p in points[2:]:")],
    ],
    "bm_richards": [
        [("i.control // 2 ^ 0xd008", "i.control // 2 ^ 0xd009")],
        [("if w.count > 26:", "if w.count > 25:")],
        [("pkt.datum = 0", "pkt.datum = 1")],
        [("if t.priority > self.priority:", "if t.priority < self.priority:")],
        [("self.count = 10000", "self.count = 1000")],
    ],
}

#: Variants that keep every result of a program; each must pass its suite.
EQUIVALENT_VARIANTS = {
    "bm_nqueens": [
        [
            ("__author__ = ", "import itertools\n\n__author__ = "),
            ("in permutations(cols):", "in itertools.permutations(cols):"),
        ],
    ],
    "bm_fannkuch": [
        [("while 1:", "while True:"), ("perm = perm1[:]", "perm = list(perm1)")],
    ],
    "bm_float": [
        [
            (
                "self.x = self.x if self.x > other.x else other.x",
                "if other.x > self.x:\n            self.x = other.x",
            )
        ],
    ],
    "bm_richards": [
        [("for i in BUFSIZE_RANGE:", "for i in range(BUFSIZE):")],
    ],
}


def variant_cases(table):
    return [
        pytest.param(name, replacements, id=f"{name}-{index}")
        for name, variants in table.items()
        for index, replacements in enumerate(variants)
    ]


def apply_replacements(path, replacements):
    source = path.read_text("utf-8")
    for old, new in replacements:
        assert source.count(old) == 1, f"{old!r} must occur once in {path.name}"
        source = source.replace(old, new)
    path.write_text(source, "utf-8")


def check_suite(directory, tmp_path):
    """Run check.py on a prepared folder and return its exit code and JSON report."""
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "check.py"), str(directory), "--repeat", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
    )
    assert completed.stdout, completed.stderr
    return completed.returncode, json.loads(completed.stdout)


def run_evolver(arguments, cwd, timeout):
    return subprocess.run(
        [sys.executable, "-m", "evolver", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def parse_json_output(completed):
    assert completed.stdout.strip(), f"no JSON on stdout; stderr:\n{completed.stderr}"
    return json.loads(completed.stdout)


@pytest.mark.parametrize("name", PROGRAMS)
def test_prepare_cuts_only_pyperf(name, tmp_path):
    original = prepare_module.program_path(name).read_text("utf-8")
    directory = prepare_module.prepare(name, tmp_path)
    target = (directory / f"{name}.py").read_text("utf-8")

    # In each of these programs the main block is the last statement.
    lines = original.splitlines(keepends=True)
    main_start = lines.index('if __name__ == "__main__":\n')
    removed = {lines.index("import pyperf\n"), *range(main_start, len(lines))}
    expected = "".join(line for i, line in enumerate(lines) if i not in removed)
    assert target == expected
    assert "pyperf" not in target


@pytest.mark.parametrize("name", PROGRAMS)
def test_prepare_writes_config(name, tmp_path):
    directory = prepare_module.prepare(name, tmp_path)
    config = tomllib.loads((directory / "evolver.toml").read_text("utf-8"))
    suite = (directory / f"test_{name}.py").read_bytes()

    assert config == {
        "target": f"{name}.py",
        "suite": f"test_{name}.py",
        "functions": list(prepare_module.PROGRAMS[name]),
        "budget": 60,
        "population": 12,
        "max_examples": 20,
    }
    assert suite == (EXAMPLES / f"test_{name}.py").read_bytes()


def test_strip_keeps_comments_and_blanks():
    source = (
        '"""Doc."""\n\n# Timing.\nimport pyperf\nimport math\n\nx = 1\n\n\n'
        'if __name__ == "__main__":\n    pyperf.Runner()\n'
    )
    expected = '"""Doc."""\n\n# Timing.\nimport math\n\nx = 1\n\n\n'
    assert prepare_module.strip_pyperf(source) == expected


def test_strip_rejects_missing_main_block():
    with pytest.raises(ValueError, match="found 0"):
        prepare_module.strip_pyperf("import pyperf\nx = 1\n")


def test_strip_rejects_other_pyperf_use():
    source = (
        'import pyperf\nRUNNER = pyperf.Runner\nif __name__ == "__main__":\n    pass\n'
    )
    with pytest.raises(ValueError, match="still uses pyperf"):
        prepare_module.strip_pyperf(source)


def test_prepare_rejects_unknown_program(tmp_path):
    with pytest.raises(ValueError, match="bm_nqueens"):
        prepare_module.prepare("bm_unknown", tmp_path)


@pytest.mark.parametrize("name", PROGRAMS)
def test_suite_passes_original(name, tmp_path):
    directory = prepare_module.prepare(name, tmp_path / "targets")

    returncode, report = check_suite(directory, tmp_path)

    failing = {test: r["error"] for test, r in report["tests"].items() if r["error"]}
    assert failing == {}
    assert report["benches"], "the suite defines no bench_* function"
    assert all(r["error"] is None for r in report["benches"].values())
    assert returncode == 0


@pytest.mark.parametrize(("name", "replacements"), variant_cases(BROKEN_VARIANTS))
def test_broken_variant_fails(name, replacements, tmp_path):
    directory = prepare_module.prepare(name, tmp_path / "targets")
    apply_replacements(directory / f"{name}.py", replacements)

    returncode, report = check_suite(directory, tmp_path)

    failing = [test for test, r in report["tests"].items() if r["error"]]
    assert failing, "every test passed on a variant that changes results"
    assert report["benches"] == {}
    assert returncode == 1


@pytest.mark.parametrize(("name", "replacements"), variant_cases(EQUIVALENT_VARIANTS))
def test_equivalent_variant_passes(name, replacements, tmp_path):
    directory = prepare_module.prepare(name, tmp_path / "targets")
    apply_replacements(directory / f"{name}.py", replacements)

    returncode, report = check_suite(directory, tmp_path)

    failing = {test: r["error"] for test, r in report["tests"].items() if r["error"]}
    assert failing == {}
    assert returncode == 0


def evaluate_candidate(directory, name, candidate, variant):
    """Rebuild a reported candidate from its diff and run ``evolver eval`` on it."""
    variant.mkdir(parents=True)
    for file_name in (f"{name}.py", f"test_{name}.py"):
        (variant / file_name).write_bytes((directory / file_name).read_bytes())
    if candidate["diff"]:
        applied = subprocess.run(
            ["git", "apply", "-"],
            input=candidate["diff"],
            cwd=variant,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert applied.returncode == 0, applied.stderr
        # Run inside a git repository, git apply ignores paths outside the current
        # directory without an error, so check that the target really changed.
        changed = (variant / f"{name}.py").read_bytes()
        original = (directory / f"{name}.py").read_bytes()
        assert changed != original, "git apply left the target unchanged"

    arguments = ["eval", str(variant / f"{name}.py")]
    # The run used seed 1 and the prepared max_examples; the same settings give the
    # same examples and so the same failures and fuel.
    arguments += ["--suite", str(variant / f"test_{name}.py"), "--json"]
    arguments += ["--seed", "1", "--max-examples", "20"]
    return parse_json_output(run_evolver(arguments, variant.parent, CHECK_TIMEOUT))


def count_candidates(archive, run_id):
    connection = sqlite3.connect(f"{archive.as_uri()}?mode=ro", uri=True)
    with contextlib.closing(connection):
        query = "SELECT count(*) FROM candidates WHERE run_id=?"
        (count,) = connection.execute(query, (run_id,)).fetchone()
    return count


@pytest.mark.parametrize("name", ["bm_nqueens", "bm_fannkuch"])
def test_evolver_run_report(name, tmp_path):
    directory = prepare_module.prepare(name, tmp_path / "targets")
    arguments = ["run", str(directory), "--budget", "40", "--seed", "1", "--json"]

    completed = run_evolver(arguments, tmp_path, RUN_TIMEOUT)

    assert completed.returncode == 0, completed.stderr
    report = parse_json_output(completed)
    for key in ("run_id", "archive", "evaluations", "original", "best"):
        assert key in report, f"missing key {key!r} in {sorted(report)}"
    assert report["evaluations"] >= 1
    assert report["original"]["failures"] == 0
    assert report["original"]["cost"] > 0
    assert isinstance(report["best"], list)
    assert report["best"], "a run that evaluated the original reports no best candidate"

    for index, candidate in enumerate(report["best"]):
        for key in ("candidate_id", "failures", "cost", "edits", "diff"):
            assert key in candidate, f"missing key {key!r} in {sorted(candidate)}"
        variant = tmp_path / "candidates" / str(index)
        evaluation = evaluate_candidate(directory, name, candidate, variant)
        candidate_id = candidate["candidate_id"]
        assert evaluation["failures"] == candidate["failures"], candidate_id

    archive = Path(report["archive"])
    assert archive.is_file()
    assert count_candidates(archive, report["run_id"]) >= report["evaluations"]
