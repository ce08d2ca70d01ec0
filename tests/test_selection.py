"""Selection strategies, the operator bandit and the stop rules, without a sandbox."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from evolver._adaptation import FLOOR_SHARE, OperatorBandit
from evolver._budget import Standing, StopRules, StopWatch
from evolver._search import _Fitness
from evolver._selection import lexicase_draw, make_selection, migrate_ring
from fitness import TestOutcome as Outcome
from genomes import OPERATORS

#: Operator names in the bandit's order.
NAMES = tuple(OPERATORS)

TESTS = ("test_a", "test_b", "test_c")


@dataclass
class FakeEvaluation:
    tests: tuple[Outcome, ...]


@dataclass
class Member:
    """A stand-in for a search candidate: a name, tests passed and a cost."""

    name: str
    passed: tuple[str, ...]
    cost: float
    fitness: _Fitness = field(init=False)
    evaluation: FakeEvaluation = field(init=False)

    def __post_init__(self) -> None:
        failures = len(TESTS) - len(self.passed)
        self.fitness = _Fitness()
        self.fitness.values = (failures, self.cost, 1)
        outcomes = tuple(Outcome(name, name in self.passed) for name in TESTS)
        self.evaluation = FakeEvaluation(outcomes)

    @property
    def source_hash(self) -> str:
        return self.name


def rank(member: Member) -> tuple:
    return (member.fitness.values[0], member.cost)


def test_lexicase_picks_each_specialist():
    only_a = Member("a", ("test_a",), 5.0)
    only_b = Member("b", ("test_b",), 5.0)
    only_c = Member("c", ("test_c",), 5.0)
    generalist_of_none = Member("none", (), 1.0)
    pool = [only_a, only_b, only_c, generalist_of_none]
    rng = random.Random(3)
    drawn = {lexicase_draw(pool, TESTS, rng).name for _ in range(200)}
    assert drawn == {"a", "b", "c"}


def test_lexicase_cost_breaks_test_ties():
    cheap = Member("cheap", TESTS, 100.0)
    within_tolerance = Member("close", TESTS, 100.5)
    dear = Member("dear", TESTS, 120.0)
    rng = random.Random(0)
    drawn = {lexicase_draw([dear, cheap, within_tolerance], TESTS, rng).name for _ in range(100)}
    assert drawn == {"cheap", "close"}


def test_lexicase_survival_keeps_cheapest_passing():
    pool = [Member(f"m{i}", TESTS[: i % 4], 10.0 + i) for i in range(12)]
    passing = [m for m in pool if len(m.passed) == len(TESTS)]
    selection = make_selection(
        "lexicase", population=4, tests=TESTS, rng=random.Random(1), rank_key=rank
    )
    selection.seed(pool, generation=1)
    (group,) = selection.groups
    assert len(group) == 4
    assert len({m.name for m in group}) == 4
    assert group[0] is min(passing, key=lambda m: m.cost)


def test_lexicase_same_seed_same_choices():
    pool = [Member(f"m{i}", TESTS[: i % 4], float(i % 5)) for i in range(10)]
    first = [lexicase_draw(pool, TESTS, random.Random(7)).name for _ in range(1)]
    rng_one, rng_two = random.Random(7), random.Random(7)
    one = [lexicase_draw(pool, TESTS, rng_one).name for _ in range(50)]
    two = [lexicase_draw(pool, TESTS, rng_two).name for _ in range(50)]
    assert one == two
    assert one[0] == first[0]


def test_ring_migration_sends_best_onwards():
    islands = [
        [Member(f"i{index}m{rank_}", TESTS, 10.0 * index + rank_) for rank_ in range(3)]
        for index in range(3)
    ]
    moved = migrate_ring(islands, 1, rank)
    assert [len(island) for island in moved] == [3, 3, 3]
    # Island 0 receives island 2's best in place of its last member, and so on.
    assert [m.name for m in moved[0]] == ["i0m0", "i0m1", "i2m0"]
    assert [m.name for m in moved[1]] == ["i1m0", "i1m1", "i0m0"]
    assert [m.name for m in moved[2]] == ["i2m0", "i2m1", "i1m0"]


def test_ring_migration_skips_present_migrant():
    shared = Member("shared", TESTS, 1.0)
    islands = [[shared, Member("x", TESTS, 5.0)], [shared, Member("y", TESTS, 6.0)]]
    moved = migrate_ring(islands, 1, rank)
    assert [m.name for m in moved[0]] == ["shared", "x"]
    assert [m.name for m in moved[1]] == ["shared", "y"]


def islands_of(population: int, islands: int, interval: int):
    return make_selection(
        "islands",
        population=population,
        tests=TESTS,
        rng=random.Random(0),
        rank_key=rank,
        islands=islands,
        migrants=1,
        migration_interval=interval,
    )


def test_islands_split_population_evenly():
    selection = islands_of(7, 3, 2)
    assert selection.group_sizes() == [3, 2, 2]
    assert selection.shares(7) == [3, 2, 2]
    assert selection.shares(4) == [2, 1, 1]


def test_islands_migrate_on_interval():
    selection = islands_of(4, 2, 2)
    members = [Member(f"m{i}", TESTS, float(i)) for i in range(4)]
    selection.seed(members, generation=1)
    # Dealt in turn: island 0 gets m0 and m2, island 1 gets m1 and m3.
    assert [[m.name for m in g] for g in selection.groups] == [["m0", "m2"], ["m1", "m3"]]
    selection.survive([[], []], generation=2)
    assert [[m.name for m in g] for g in selection.groups] == [["m0", "m1"], ["m1", "m0"]]


def test_empty_island_gets_no_children():
    selection = islands_of(6, 3, 2)
    members = [Member(f"m{i}", TESTS, float(i)) for i in range(2)]
    selection.seed(members, generation=1)
    assert [[m.name for m in g] for g in selection.groups] == [["m0"], ["m1"], []]
    assert selection.shares(6) == [3, 3, 0]
    # At the next migration the empty island takes its neighbour's best.
    selection.survive([[], [], []], generation=2)
    assert [[m.name for m in g] for g in selection.groups] == [["m0"], ["m1"], ["m1"]]
    assert selection.shares(6) == [2, 2, 2]


def test_bandit_rewards_improving_operator():
    winner = NAMES[0]
    bandit = OperatorBandit()
    prior = bandit.prior[winner]
    for _ in range(30):
        for name in NAMES:
            for _ in range(3):
                bandit.record(name, improved=name == winner)
        counts = bandit.end_generation()
    probabilities = bandit.weights()
    floor = FLOOR_SHARE / len(OPERATORS)
    assert probabilities[winner] > prior
    assert probabilities[winner] > 0.5
    for name in NAMES[1:]:
        assert probabilities[name] >= floor
        assert probabilities[name] == pytest.approx(floor, rel=1e-3)
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert [c.operator for c in counts] == list(NAMES)
    assert counts[0].uses == 3
    assert counts[0].improvements == 3


def test_bandit_keeps_disabled_operators_off():
    disabled = NAMES[1]
    bandit = OperatorBandit({disabled: 0, NAMES[2]: 3})
    assert bandit.prior[NAMES[2]] == pytest.approx(3 * bandit.prior[NAMES[0]])
    bandit.record(NAMES[0], improved=True)
    bandit.end_generation()
    assert bandit.weights()[disabled] == 0.0
    assert sum(bandit.weights().values()) == pytest.approx(1.0)


def test_bandit_unused_operator_keeps_quality():
    bandit = OperatorBandit()
    before = dict(bandit.quality)
    bandit.record(NAMES[0], improved=False)
    bandit.end_generation()
    assert bandit.quality[NAMES[0]] < before[NAMES[0]]
    assert bandit.quality[NAMES[1]] == before[NAMES[1]]


def test_bandit_without_adaptation_only_counts():
    bandit = OperatorBandit({NAMES[0]: 2}, adapt=False)
    prior = bandit.weights()
    bandit.record(NAMES[0], improved=True)
    (first, *_rest) = bandit.end_generation()
    assert bandit.weights() == prior
    assert first.uses == 1
    assert first.improvements == 1
    assert first.probability == prior[NAMES[0]]


ORIGINAL = Standing(passing=True, failures=0, cost=100.0)


def test_plateau_stops_after_stale_generations():
    watch = StopWatch(StopRules(budget=1000, plateau=3))
    watch.start(ORIGINAL)
    history = [
        [Standing(True, 0, 90.0)],  # better: generation 1 improves
        [Standing(True, 0, 89.5)],  # within 1%: no improvement
        [Standing(False, 1, 1.0)],
        [Standing(True, 0, 95.0)],
    ]
    reasons = []
    for standings in history:
        watch.end_generation(standings)
        reasons.append(watch.stop_reason(10, replaying=False))
    assert reasons == [None, None, None, "plateau"]


def test_target_cost_stops_on_passing_variant():
    watch = StopWatch(StopRules(budget=1000, target_cost=50.0))
    watch.start(ORIGINAL)
    watch.end_generation([Standing(False, 1, 10.0), Standing(True, 0, 60.0)])
    assert watch.stop_reason(5, replaying=False) is None
    watch.end_generation([Standing(True, 0, 50.0)])
    assert watch.stop_reason(6, replaying=False) == "target_cost"


def test_budget_comes_first():
    watch = StopWatch(StopRules(budget=6, target_cost=50.0))
    watch.start(ORIGINAL)
    watch.end_generation([Standing(True, 0, 10.0)])
    assert watch.stop_reason(6, replaying=False) == "budget"


def test_time_budget_waits_for_replay():
    now = [0.0]
    watch = StopWatch(StopRules(budget=100, time_budget=30.0), clock=lambda: now[0])
    watch.start(ORIGINAL)
    now[0] = 29.0
    assert watch.stop_reason(1, replaying=False) is None
    now[0] = 31.0
    assert watch.stop_reason(1, replaying=True) is None
    assert watch.stop_reason(1, replaying=False) == "time_budget"


def test_replayed_operator_stats_must_match():
    from archive import OperatorStatsRecord
    from evolver._adaptation import OperatorCount
    from evolver._search import ResumeMismatch, _check_operator_stats

    counts = [OperatorCount("bind_local", 2, 1, 0.5), OperatorCount("list_to_set", 0, 0, 0.5)]
    stored = [OperatorStatsRecord("r1", 3, c.operator, c.uses, c.improvements, c.probability) for c in counts]
    _check_operator_stats(3, counts, stored)
    _check_operator_stats(3, counts, None)
    changed = [*stored[:1], OperatorStatsRecord("r1", 3, "list_to_set", 0, 0, 0.4)]
    with pytest.raises(ResumeMismatch, match="Generation 3 in the archive") as info:
        _check_operator_stats(3, counts, changed)
    assert "operator statistics" in str(info.value)
