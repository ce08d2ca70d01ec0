"""When a run stops: its budgets in evaluations and wall time, a target and a plateau.

The search calls `stop_reason` before each generation. The first rule that holds
names the reason, in this order:
- `budget`: the evaluations spent, the original's included, reached `budget`.
- `target_cost`: some variant passed every test at a cost of at most `target_cost`.
- `plateau`: the best rank has not improved for `plateau` generations in a row.
  The best rank improves when a variant passes where none did before, fails
  fewer tests, or at as many failures costs over `COST_TOLERANCE` less than the
  best so far. The original is the first best, so a run whose variants never
  beat it stops after generation `plateau`.
- `time_budget`: `time_budget` seconds have passed since the search began.
The search itself stops with `exhausted` when no unseen child could be made.

Invariants:
- The evaluation, target and plateau rules see only evaluations, so a resumed
  run that replays its saved generations stops where the uninterrupted one did.
- The wall-time rule is checked only once the saved generations are replayed,
  and its clock starts when this process starts the search. A resumed run
  therefore gets a fresh `time_budget`, and neither it nor an uninterrupted run
  with a time budget can be reproduced exactly, because how many generations
  fit in the time depends on the machine's speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

#: Reasons a run stops, as the run's summary names them.
STOP_REASONS: Final = ("budget", "target_cost", "plateau", "time_budget", "exhausted")

#: Sentences that explain each reason, for the terminal summary.
STOP_MESSAGES: Final = {
    "budget": "the evaluation budget was spent",
    "target_cost": "a passing variant reached the target cost",
    "plateau": "the best rank did not improve for the plateau's generations",
    "time_budget": "the time budget ran out",
    "exhausted": "no unseen child could be made",
}

#: Relative cost difference below which two candidates count as equally cheap, in
#: the search's ranking, lexicase's cost case and the plateau rule. The fuel of a
#: benchmark shifts by a fraction of a percent with the guest's heap layout, which
#: unrelated edits change.
COST_TOLERANCE: Final = 0.01


@dataclass(frozen=True)
class StopRules:
    """The limits of a run; None switches a rule off."""

    budget: int
    time_budget: float | None = None
    target_cost: float | None = None
    plateau: int | None = None


@dataclass(frozen=True)
class Standing:
    """A candidate's place for the plateau rule: passing flag, failures and cost."""

    passing: bool
    #: The failures objective: the failing test count, or repair mode's weighted sum.
    failures: float
    cost: float

    def beats(self, other: Standing) -> bool:
        """Tell whether this standing improves on `other` beyond the cost tolerance."""
        if self.passing != other.passing:
            return self.passing
        if self.failures != other.failures:
            return self.failures < other.failures
        if not math.isfinite(self.cost):
            return False
        return self.cost * (1 + COST_TOLERANCE) < other.cost


class StopWatch:
    """Applies `StopRules` to a search, one generation at a time."""

    def __init__(self, rules: StopRules, clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = rules
        self._clock = clock
        self._started = clock()
        self._best: Standing | None = None
        self._stale = 0
        self._target_reached = False

    def start(self, original: Standing) -> None:
        """Take the original's standing as the first best."""
        self._best = original
        self._stale = 0

    def end_generation(self, standings: list[Standing]) -> None:
        """Account one generation's evaluated variants."""
        improved = False
        for standing in standings:
            if self._best is None or standing.beats(self._best):
                self._best = standing
                improved = True
            target = self.rules.target_cost
            if target is not None and standing.passing and standing.cost <= target:
                self._target_reached = True
        self._stale = 0 if improved else self._stale + 1

    def stop_reason(self, evaluations: int, *, replaying: bool) -> str | None:
        """Return the first rule that stops the run now, or None to go on."""
        if evaluations >= self.rules.budget:
            return "budget"
        if self._target_reached:
            return "target_cost"
        if self.rules.plateau is not None and self._stale >= self.rules.plateau:
            return "plateau"
        time_budget = self.rules.time_budget
        if (
            not replaying
            and time_budget is not None
            and self._clock() - self._started >= time_budget
        ):
            return "time_budget"
        return None
