"""The canary gate: its statistics, configuration, value codec and real gate runs."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from evolver._canary import (
    canary_candidate,
    gate_seeds,
    touched_functions,
)
from evolver._canary_config import CHECKS, CanaryConfig, build_canary_config
from evolver._canary_statistics import cliffs_delta, compare_timings, mann_whitney_u
from evolver._canary_verdict import Check, combine
from evolver._config import read_config_file
from evolver._errors import ConfigError
from fitness import (
    CallInput,
    DifferentialSettings,
    EvaluationSettings,
    Replay,
    Suite,
    codec,
    compare_replays,
    draw_inputs,
    evaluate,
    replay_inputs,
)
from genomes import Target

# A small target with three planted cases. `total` reads its input in two loops,
# so deleting the second one is wrong only for lists longer than 12, which the
# search's few examples do not reach but the gate's do. `mean` makes a copy it
# never uses, so deleting it is a real improvement. `sign` handles negative
# values that the suite never passes, so deleting that branch changes behaviour
# only where the suite does not look.
MEASURES = '''\
"""Small measures of lists of integers."""


def total(values: list[int]) -> int:
    """Return the sum of the values."""
    result = 0
    for value in values[:12]:
        result += value
    for value in values[12:]:
        result += value
    return result


def mean(values: list[int]) -> float:
    """Return the arithmetic mean, or 0.0 for an empty list."""
    copy = sorted(values, reverse=True)
    if not values:
        return 0.0
    return sum(values) / len(values)


def sign(value: int) -> int:
    """Return -1, 0 or 1 as value is negative, zero or positive."""
    if value < 0:
        return -1
    if value == 0:
        return 0
    return 1
'''

MEASURES_SUITE = """\
from hypothesis import given, strategies as st

import measures


@given(st.lists(st.integers(0, 9), max_size=20))
def test_total_is_sum(values):
    assert measures.total(values) == sum(values)


@given(st.lists(st.integers(0, 100), max_size=10))
def test_mean_is_between_extremes(values):
    result = measures.mean(values)
    if values:
        assert min(values) <= result <= max(values)
    else:
        assert result == 0.0


@given(st.integers(0, 1000))
def test_sign_of_non_negative(value):
    assert measures.sign(value) == (1 if value else 0)


def bench_measures():
    data = list(range(300))
    measures.total(data)
    measures.mean(data)
    for value in range(300):
        measures.sign(value)
"""

#: The search's settings in these tests: few examples, as a quick search uses.
SEARCH = EvaluationSettings(max_examples=3, seed=0)

#: One seed and four times the examples keep each gate run to a few sandbox runs.
QUICK = CanaryConfig(seeds=1, examples_factor=4, drawn_inputs=40, recorded_inputs=40)

#: The gate's default of 100 drawn inputs, and 60 examples per test, as the default
#: factor of 5 gives a search of 12 examples: lists longer than 12 come up in both.
THOROUGH = CanaryConfig(seeds=1, examples_factor=20)


@pytest.fixture(scope="module")
def measures(tmp_path_factory) -> tuple[Target, Suite]:
    folder = tmp_path_factory.mktemp("measures")
    (folder / "measures.py").write_text(MEASURES)
    (folder / "test_measures.py").write_text(MEASURES_SUITE)
    target = Target.from_file(folder / "measures.py")
    return target, Suite.from_file(folder / "test_measures.py")


def deletion(target: Target, statement: str):
    """Apply the edit that deletes the statement whose first line is `statement`."""
    lines = target.source.splitlines()
    for edit in target.sites():
        applied = target.apply([edit])
        new_lines = applied.source.splitlines()
        removed = [line for line in lines if line not in new_lines]
        added = [line for line in new_lines if line not in lines]
        if removed and not added and removed[0].strip() == statement:
            return applied
    raise AssertionError(f"no site deletes {statement!r}")


# Statistics ------------------------------------------------------------------


def test_u_when_all_smaller():
    result = mann_whitney_u([1, 2, 3], [4, 5, 6])

    # By hand: U = 0, mean = 9 / 2, variance = 9 / 12 * 7, and the one-sided
    # p-value is Phi((0 - 4.5 + 0.5) / sqrt(5.25)) = Phi(-1.74574).
    assert result.u == 0
    assert result.mean == 4.5
    assert result.variance == pytest.approx(5.25)
    assert result.p_less == pytest.approx(0.040428, abs=1e-6)
    assert result.p_greater == pytest.approx(1 - 0.014548, abs=1e-6)


def test_u_tie_correction():
    result = mann_whitney_u([1, 1, 2], [1, 2, 2])

    # Ranks: the three 1s share rank 2 and the three 2s rank 5, so R1 = 9 and
    # U = 9 - 6 = 3. Ties: 2 * (27 - 3) = 48, variance = 9 / 12 * (7 - 48 / 30).
    assert result.u == 3
    assert result.variance == pytest.approx(4.05)
    assert result.z == pytest.approx(-1.5 / math.sqrt(4.05))


def test_u_matches_exact_table():
    # The exact table of the Mann-Whitney U test gives 23 as the critical value
    # for two samples of 10 at alpha = 0.05, two-sided: U <= 23 rejects.
    second = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    # No ties, so the variance is the plain n m (n + m + 1) / 12 = 175.
    at_critical = [200, 201, 35, 1, 2, 3, 4, 5, 6, 7]
    above_critical = [200, 201, 45, 1, 2, 3, 4, 5, 6, 7]

    assert mann_whitney_u(at_critical, second).u == 23
    assert mann_whitney_u(at_critical, second).variance == pytest.approx(175)
    assert mann_whitney_u(above_critical, second).u == 24
    assert mann_whitney_u(at_critical, second).p_two_sided < 0.05
    assert mann_whitney_u(above_critical, second).p_two_sided > 0.05


def test_u_all_tied():
    result = mann_whitney_u([3, 3, 3], [3, 3])

    assert result.variance == 0
    assert result.p_less == 1.0
    assert result.p_greater == 1.0


def test_cliffs_delta_values():
    assert cliffs_delta([1, 2, 3], [4, 5, 6]) == -1.0
    assert cliffs_delta([4, 5, 6], [1, 2, 3]) == 1.0
    # Pairs of [1, 2] and [2, 3]: three smaller, one tie.
    assert cliffs_delta([1, 2], [2, 3]) == -0.75


def test_cliffs_delta_relation_to_u():
    rng = random.Random(4)
    first = [rng.randint(0, 9) for _ in range(12)]
    second = [rng.randint(0, 9) for _ in range(9)]

    u = mann_whitney_u(first, second).u

    assert cliffs_delta(first, second) == pytest.approx(2 * u / (12 * 9) - 1)


@pytest.mark.parametrize(
    ("candidate", "status", "reason"),
    [
        ([8.0, 8.1, 7.9, 8.2, 8.0, 7.8, 8.1, 8.0], "pass", "lower"),
        ([10.4, 10.6, 10.5, 10.7, 10.5, 10.3, 10.6, 10.4], "fail", "slower"),
        ([9.6, 10.3, 9.8, 10.2, 9.9, 10.1, 9.7, 10.4], "marginal", "not significant"),
        (
            [9.9, 9.95, 9.92, 9.93, 9.91, 9.94, 9.96, 9.9],
            "marginal",
            "below the required",
        ),
    ],
)
def test_compare_timings_statuses(candidate, status, reason):
    original = [10.0, 10.2, 9.9, 10.1, 10.0, 9.95, 10.05, 10.1]

    comparison = compare_timings(
        original, candidate, min_improvement=0.01, alpha=0.05, min_effect=0.33
    )

    assert comparison.status == status
    assert reason in comparison.reason


# Configuration ----------------------------------------------------------------


def write_config(tmp_path: Path, text: str, name: str = "evolver.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_canary_config_defaults(tmp_path: Path):
    path = write_config(tmp_path, 'target = "t.py"\nsuite = "s.py"\n')

    config = build_canary_config(read_config_file(path), str(path))

    assert config == CanaryConfig()
    assert config.critical == CHECKS


def test_canary_config_read(tmp_path: Path):
    text = (
        'target = "t.py"\nsuite = "s.py"\n[canary]\nseeds = 3\nalpha = 0.01\n'
        'min_improvement = 0\ncritical = ["suite", "differential"]\n'
    )
    path = write_config(tmp_path, text)

    config = build_canary_config(read_config_file(path), str(path))

    assert config.seeds == 3
    assert config.alpha == 0.01
    assert config.min_improvement == 0.0
    assert isinstance(config.min_improvement, float)
    assert config.critical == ("suite", "differential")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("seeds = 0", "Invalid value 0 for canary.seeds in {path}: use a whole number"),
        ("alpha = 1.5", "Invalid value 1.5 for canary.alpha in {path}: use a number"),
        ("repetitions = 3", "canary.repetitions in {path}: use a whole number of runs"),
        ("examples_factor = true", "Invalid value True for canary.examples_factor"),
        ('critical = ["speed"]', "use a list of check names among suite, differential"),
        ("min_improvement = 1", "canary.min_improvement in {path}: use a fraction"),
        ("seeds_count = 2", "Unknown key canary.seeds_count in {path}. Known keys"),
    ],
)
def test_canary_config_invalid(tmp_path: Path, line: str, message: str):
    path = write_config(tmp_path, f"[canary]\n{line}\n")

    with pytest.raises(ConfigError) as info:
        build_canary_config(read_config_file(path), str(path))

    assert message.format(path=path) in str(info.value)


def test_canary_config_in_pyproject(tmp_path: Path):
    path = write_config(tmp_path, "[tool.evolver]\ncanary = 3\n", name="pyproject.toml")

    with pytest.raises(ConfigError) as info:
        build_canary_config(read_config_file(path), str(path))

    assert f"canary in [tool.evolver] in {path} must be a table" in str(info.value)


# Values, functions and verdicts ----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -7,
        pytest.param(2**20000, id="huge-int"),
        0.1,
        float("nan"),
        float("-inf"),
        -0.0,
        "text \u00e9",
        b"\x00\xff",
        [1, [2.5, None]],
        (1, (2,)),
        {1: "a", (2, 3): [b""]},
        {3, 1},
        frozenset({"x"}),
    ],
)
def test_codec_round_trip(value):
    data = json.loads(json.dumps(codec.encode(value)))

    decoded = codec.decode(data)

    assert type(decoded) is type(value)
    assert codec.same(codec.encode(decoded), codec.encode(value))
    if not (isinstance(value, float) and math.isnan(value)):
        assert decoded == value


def test_codec_same_rules():
    encode = codec.encode

    assert codec.same(encode(float("nan")), encode(float("nan")))
    assert codec.same(encode(0.0), encode(-0.0))
    assert not codec.same(encode(1), encode(1.0))
    assert not codec.same(encode(1), encode(True))
    assert not codec.same(encode([1, 2]), encode((1, 2)))
    assert not codec.same(encode([1, 2]), encode([2, 1]))
    assert codec.same(encode({1, 2, 3}), encode({3, 2, 1}))
    assert codec.same(encode({"a": 1, "b": 2}), encode({"b": 2, "a": 1}))
    assert not codec.same(encode({"a": 1}), encode({"a": 1.0}))


def test_codec_rejects_objects_in_inputs():
    with pytest.raises(codec.NotPlainError, match="type object is not plain"):
        codec.encode([object()])

    encoded = codec.encode([object()], plain=False)

    assert encoded == [{"object": ["builtins.object", "<object object>"]}]


def test_compare_replays_names_input():
    inputs = [
        CallInput("sign", codec.encode([[-3], {}]), "drawn"),
        CallInput("sign", codec.encode([[0], {}]), "suite"),
    ]
    original = Replay(({"raised": "builtins.ValueError"}, {"returned": 0}), "ok", "")
    candidate = Replay(({"returned": 1}, {"returned": 0}), "ok", "")

    differences = compare_replays(inputs, original, candidate)

    assert [difference.index for difference in differences] == [0]
    assert differences[0].describe() == (
        "sign(-3): the candidate returned 1 where the original raised "
        "builtins.ValueError."
    )


def test_touched_functions(measures):
    target, _ = measures
    source = (
        "LIMIT = 3\n\n\ndef f(x: int) -> int:\n    def inner():\n        return x\n"
        "    return inner()\n\n\nclass Box:\n    def get(self):\n        return 1\n\n\n"
        "async def later():\n    return 2\n"
    )
    module = Target.from_source(source, path="box.py")
    by_line = {edit.line: edit for edit in module.sites()}

    assert touched_functions(module, [by_line[6]]).checked == ("f",)
    assert touched_functions(module, [by_line[1]]).checked == ("f",)
    boxed = touched_functions(module, [by_line[12]])
    assert boxed.checked == ()
    assert list(boxed.unchecked) == ["Box.get"]
    assert "later" in touched_functions(module, [by_line[16]]).unchecked
    copy = deletion(target, "copy = sorted(values, reverse=True)")
    assert touched_functions(target, copy.applied).checked == ("mean",)


def test_combine_rules():
    def check(status: str, critical: bool = True) -> Check:
        return Check("suite", status, critical, "", {})

    assert combine((check("pass"), check("skipped"))) == "pass"
    assert combine((check("pass"), check("marginal"))) == "marginal"
    assert combine((check("pass"), check("fail", critical=False))) == "marginal"
    assert combine((check("marginal"), check("fail"))) == "fail"


def test_gate_seeds_are_new():
    seeds = gate_seeds(0, 3, avoid=0)

    assert len(set(seeds)) == 3
    assert 0 not in seeds
    assert gate_seeds(0, 3, avoid=0) == seeds
    assert gate_seeds(1, 3, avoid=1) != seeds


# Real gate runs in the wasm sandbox -------------------------------------------


def gate(measures, statement: str):
    """Gate the deletion of `statement` with the quick settings."""
    target, suite = measures
    applied = deletion(target, statement)
    verdict = canary_candidate(
        target, suite, applied.source, applied.applied, search=SEARCH, config=QUICK
    )
    return applied, verdict


def test_gate_rejects_overfitting(measures, wasm_sandbox):
    target, suite = measures
    applied = deletion(target, "for value in values[12:]:")
    seen = evaluate(wasm_sandbox, applied.source, "measures", suite, SEARCH)
    assert seen.passed, "the planted candidate must pass the search's own examples"

    verdict = canary_candidate(
        target, suite, applied.source, applied.applied, search=SEARCH, config=THOROUGH
    )

    assert verdict.verdict == "fail"
    assert verdict.promoted is False
    assert verdict.check("suite").status == "fail"
    assert verdict.check("suite").counterexample.startswith("test_total_is_sum failed")
    assert verdict.check("differential").status == "fail"
    assert "total([" in verdict.check("differential").counterexample


def test_gate_promotes_real_improvement(measures):
    applied, verdict = gate(measures, "copy = sorted(values, reverse=True)")

    assert verdict.verdict == "pass", verdict.to_json()
    assert [check.status for check in verdict.checks] == ["pass"] * 4
    cost = verdict.check("cost").figures
    assert cost["meter"] == "fuel"
    assert cost["candidate"] < cost["original"] * 0.99
    differential = verdict.check("differential").figures
    assert differential["functions"] == ["mean"]
    assert differential["suite_inputs"] > 0
    assert differential["drawn_inputs"] > 0
    assert differential["differences"] == 0


def test_gate_catches_unseen_difference(measures):
    applied, verdict = gate(measures, "if value < 0:")

    assert verdict.verdict == "fail"
    assert verdict.check("suite").status == "pass"
    differential = verdict.check("differential")
    assert differential.status == "fail"
    assert differential.figures["functions"] == ["sign"]
    message = differential.counterexample
    assert message.startswith("sign(-")
    assert "where the original returned -1" in message
    assert verdict.counterexample == message


def test_replay_reports_tampering(measures, wasm_sandbox):
    target, suite = measures
    settings = DifferentialSettings(seed=5, max_examples=5, drawn_inputs=5)
    draw = draw_inputs(
        wasm_sandbox, target.source, "measures", suite, ["sign"], settings
    )
    # Rebinding a builtin during a call is what the guard's check looks for.
    hostile = target.source.replace(
        "    if value < 0:\n",
        "    import builtins\n    builtins.len = lambda item: 0\n    if value < 0:\n",
    )

    honest = replay_inputs(
        wasm_sandbox, target.source, "measures", draw.inputs, settings.limits
    )
    forged = replay_inputs(
        wasm_sandbox, hostile, "measures", draw.inputs, settings.limits
    )

    assert draw.ok
    assert {item.origin for item in draw.inputs} == {"suite", "drawn"}
    assert honest.ok
    assert forged.outcome == "tampered"
    assert "builtin len was rebound" in forged.detail
    assert forged.results == (None,) * len(draw.inputs)


def test_replay_compares_yields_and_mutation(wasm_sandbox):
    original = (
        "def evens(n: int):\n    for i in range(n):\n        if i % 2 == 0:\n"
        "            yield i\n\n\ndef clear(items: list[int]) -> None:\n"
        "    items.clear()\n"
    )
    candidate = original.replace("range(n)", "range(n + 1)").replace(
        "    items.clear()\n", "    return None\n"
    )
    inputs = [
        CallInput("evens", codec.encode([[3], {}]), "drawn"),
        CallInput("evens", codec.encode([[4], {}]), "drawn"),
        CallInput("clear", codec.encode([[[1, 2]], {}]), "suite"),
    ]
    limits = DifferentialSettings().limits

    before = replay_inputs(wasm_sandbox, original, "series", inputs, limits)
    after = replay_inputs(wasm_sandbox, candidate, "series", inputs, limits)
    differences = compare_replays(inputs, before, after)

    assert before.results[0]["yielded"] == [0, 2]
    assert [difference.index for difference in differences] == [1, 2]
    assert differences[0].describe() == (
        "evens(4): the candidate yielded [0, 2, 4] where the original yielded [0, 2]."
    )
    assert differences[1].describe() == (
        "clear([1, 2]): the candidate left its arguments as [[[1, 2]], {}] where "
        "the original left them as [[[]], {}]."
    )
