"""Selection strategies of the search: who breeds and who survives a generation.

Every strategy keeps one or more groups of candidates (a single population, or
islands). Each generation the search reads the groups, makes each group's
share of the children from parents that `pick_parent` draws from that group,
and passes the evaluated children to `survive`, which sets the next groups.

Strategies:
- `nsga2`: one population. Survivors are DEAP's NSGA-II choice over (failures,
  cost, edits) from parents and children; a parent is the better of two random
  members (binary tournament on the NSGA-II order).
- `lexicase`: one population. The cases are the suite's tests, each scored 0 if
  the candidate passed it and 1 otherwise (a test missing from an evaluation,
  after a crash, counts as failed), then cost as the last case. One lexicase
  draw shuffles the tests, keeps the candidates best on each test in turn, then
  those within `COST_TOLERANCE` of the lowest cost, and picks one of the rest at
  random. Parents are single draws; survivors are `population` draws without
  replacement from parents and children, so a candidate that alone passes some
  test can survive next to cheaper ones that fail it.
- `islands`: `islands` sub-populations, each an NSGA-II population of about
  `population / islands` members that evolves apart. Every `migration_interval`
  generations each island sends copies of its best `migrants` (by the search's
  rank) to the next island in a ring, where they replace its last members.

Invariants:
- Randomness comes only from the `random.Random` the search passes in, and
  strategies consume it in the order of the groups and candidates they are
  given, so the same seed gives the same choices.
- `survive` keeps only candidates it was given, and never more per group than
  that group's size. Candidates are not copied, so a migrant is the same object
  in both islands.
- Costs: an NSGA-II step is O(objectives * n^2) for n parents and children. A
  lexicase draw is O(tests * n), so lexicase survival is O(population * tests *
  n) per generation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Final

from deap import tools

from ._budget import COST_TOLERANCE

#: Selection strategies by name, for configuration and help text.
SELECTIONS: Final = ("nsga2", "lexicase", "islands")


#: Survivors of each island may not fall below this, so that a tournament
#: still has two members to compare.
MIN_ISLAND_SIZE: Final = 2


#: A candidate's sort key, smaller is better: the search's ranking.
RankKey = Callable[[Any], tuple]


class BaseSelection:
    """A selection strategy over groups of candidates, as the module docstring describes.

    Candidates must have DEAP `fitness`, an `evaluation` and a `source_hash`.
    """

    name = ""

    def __init__(self, population: int) -> None:
        self.population_size = population
        self.groups: list[list[Any]] = []

    def group_sizes(self) -> list[int]:
        """Return how many survivors each group keeps."""
        return [self.population_size]

    def shares(self, children: int) -> list[int]:
        """Split a generation's `children` between the groups, the first groups first.

        A group without members gets none, because it has no parent to vary.
        """
        filled = [index for index, group in enumerate(self.groups) if group]
        if not self.groups:
            filled = list(range(len(self.group_sizes())))
        base, extra = divmod(children, len(filled))
        result = [0] * len(self.group_sizes())
        for rank_, index in enumerate(filled):
            result[index] = base + (1 if rank_ < extra else 0)
        return result

    def seed(self, children: Sequence[Any], generation: int) -> None:
        """Start the groups from the first generation's children, made from the original."""
        groups = len(self.group_sizes())
        dealt = [list(children[index::groups]) for index in range(groups)]
        self.survive(dealt, generation, seeding=True)

    def pick_parent(self, group: Sequence[Any], rng: random.Random) -> Any:
        """Draw one parent from `group`."""
        # The groups are in NSGA-II order (front, then crowding), so the earlier
        # of two random members is the better one.
        if len(group) == 1:
            return group[0]
        first, second = rng.sample(range(len(group)), 2)
        return group[min(first, second)]

    def survive(
        self, children: Sequence[Sequence[Any]], generation: int, *, seeding: bool = False
    ) -> None:
        """Set the next groups from the current ones and each group's new children."""
        sizes = self.group_sizes()
        if seeding:
            self.groups = [[] for _ in sizes]
        self.groups = [
            self._keep(list(group) + list(made), size)
            for group, made, size in zip(self.groups, children, sizes, strict=True)
        ]

    def _keep(self, pool: list[Any], size: int) -> list[Any]:
        if not pool:
            return []
        return tools.selNSGA2(pool, size)


class NSGA2Selection(BaseSelection):
    """One population under NSGA-II survival and binary tournaments."""

    name = "nsga2"


class LexicaseSelection(BaseSelection):
    """One population under lexicase parent choice and lexicase survival."""

    name = "lexicase"

    def __init__(self, population: int, tests: Sequence[str], rng: random.Random) -> None:
        super().__init__(population)
        self.tests = tuple(tests)
        self.rng = rng

    def pick_parent(self, group: Sequence[Any], rng: random.Random) -> Any:
        return lexicase_draw(group, self.tests, rng)

    def _keep(self, pool: list[Any], size: int) -> list[Any]:
        remaining = list(pool)
        kept = []
        while remaining and len(kept) < size:
            chosen = lexicase_draw(remaining, self.tests, self.rng)
            kept.append(chosen)
            remaining.remove(chosen)
        return kept


class IslandSelection(BaseSelection):
    """Islands of NSGA-II populations joined by ring migration."""

    name = "islands"

    def __init__(
        self,
        population: int,
        islands: int,
        migrants: int,
        interval: int,
        rank_key: RankKey,
    ) -> None:
        super().__init__(population)
        self.islands = islands
        self.migrants = migrants
        self.interval = interval
        self.rank_key = rank_key

    def group_sizes(self) -> list[int]:
        base, extra = divmod(self.population_size, self.islands)
        return [
            max(MIN_ISLAND_SIZE, base + (1 if index < extra else 0))
            for index in range(self.islands)
        ]

    def survive(
        self, children: Sequence[Sequence[Any]], generation: int, *, seeding: bool = False
    ) -> None:
        super().survive(children, generation, seeding=seeding)
        if generation % self.interval == 0:
            self.groups = migrate_ring(self.groups, self.migrants, self.rank_key)


def migrate_ring(
    islands: Sequence[Sequence[Any]], migrants: int, rank_key: RankKey
) -> list[list[Any]]:
    """Send each island's best `migrants` to the next island, the last to the first.

    An arriving migrant replaces one of the island's last members, but an island
    keeps at least one of its own. A migrant that is already on the receiving
    island is not sent again. An island keeps its size, except that an empty one
    (when the first generation had fewer children than islands) takes every migrant.
    """
    emigrants = [sorted(island, key=rank_key)[:migrants] for island in islands]
    result = []
    for index, island in enumerate(islands):
        arriving = emigrants[index - 1]
        present = {member.source_hash for member in island}
        newcomers = [m for m in arriving if m.source_hash not in present]
        if island:
            newcomers = newcomers[: len(island) - 1]
        staying = list(island[: len(island) - len(newcomers)])
        result.append(staying + newcomers)
    return result


def lexicase_cases(candidate: Any, tests: Sequence[str]) -> dict[str, int]:
    """Return 0 for each test the candidate passed and 1 for each other test."""
    evaluation = candidate.evaluation
    passed = {test.name for test in evaluation.tests if test.passed}
    return {name: 0 if name in passed else 1 for name in tests}


def lexicase_draw(pool: Sequence[Any], tests: Sequence[str], rng: random.Random) -> Any:
    """Draw one candidate of `pool` by lexicase over the tests, then cost.

    The tests are shuffled with `rng`, and each in turn keeps the candidates that
    passed it, or all of them when none did. Cost then keeps those within
    `COST_TOLERANCE` of the lowest cost, and `rng` picks among the rest.
    """
    order = list(tests)
    rng.shuffle(order)
    remaining = list(pool)
    cases = {id(candidate): lexicase_cases(candidate, tests) for candidate in remaining}
    for name in order:
        if len(remaining) == 1:
            return remaining[0]
        best = min(cases[id(c)][name] for c in remaining)
        remaining = [c for c in remaining if cases[id(c)][name] == best]
    # `fitness.values[1]` is the cost that NSGA-II uses, finite even for crashes.
    lowest = min(c.fitness.values[1] for c in remaining)
    remaining = [
        c
        for c in remaining
        if c.fitness.values[1] <= lowest * (1 + COST_TOLERANCE)
    ]
    return remaining[0] if len(remaining) == 1 else rng.choice(remaining)


def make_selection(
    name: str,
    *,
    population: int,
    tests: Sequence[str],
    rng: random.Random,
    rank_key: RankKey,
    islands: int = 4,
    migrants: int = 1,
    migration_interval: int = 5,
) -> BaseSelection:
    """Return the strategy called `name`, one of `SELECTIONS`."""
    if name == "nsga2":
        return NSGA2Selection(population)
    if name == "lexicase":
        return LexicaseSelection(population, tests, rng)
    if name == "islands":
        return IslandSelection(population, islands, migrants, migration_interval, rank_key)
    raise ValueError(f"unknown selection {name!r}; use one of {', '.join(SELECTIONS)}")
