"""Self-adaptive choice of edit operators: probability matching with a floor.

The search draws each new edit's operator by weight. With adaptation on, the
weights are this bandit's probabilities, updated after every generation from how
often each operator's children improved on their parent.

Method (probability matching, a multi-armed bandit rule):
- Each enabled operator `a` has a quality `q_a`, first its share of the prior
  weights (the configured `[operators]` table, or equal weights).
- After a generation in which `a` made `n_a > 0` children, `s_a` of which beat
  their parent, `q_a += RATE * (s_a / n_a - q_a)`. An unused operator keeps its
  quality, so it neither gains nor loses from a generation it took no part in.
- Its probability is `floor + (1 - K * floor) * q_a / sum(q)` over the K enabled
  operators, with `floor = FLOOR_SHARE / K`. When every quality is 0, the prior
  shares stand in for the qualities.

Invariants:
- An operator with prior weight 0 stays disabled (probability 0).
- Every enabled operator keeps a probability of at least `floor`, so an operator
  that stopped paying off is still tried now and then.
- The probabilities of the enabled operators sum to 1 (up to float rounding).
- The update is a pure function of the counts, in a fixed operator order, so
  replaying the same generations gives the same floats bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from genomes import OPERATORS

#: Step size of the quality update: about the last 1 / RATE generations count,
#: which follows a run's changing needs without chasing one lucky generation.
RATE: Final = 0.3

#: Share of the draws spread evenly over all enabled operators, whatever their
#: quality: with K operators each keeps at least FLOOR_SHARE / K.
FLOOR_SHARE: Final = 0.4


@dataclass(frozen=True)
class OperatorCount:
    """One operator's children and improvements in a generation, and its new probability."""

    operator: str
    uses: int
    improvements: int
    probability: float


class OperatorBandit:
    """Probabilities of the edit operators, adapted from their children's success.

    With `adapt` false it only counts, and the probabilities stay the prior's.
    """

    def __init__(self, prior: Mapping[str, float] | None = None, *, adapt: bool = True) -> None:
        self.adapt = adapt
        weights = {name: 1.0 for name in OPERATORS}
        if prior is not None:
            weights.update({name: float(value) for name, value in prior.items()})
        total = sum(weights.values())
        self.prior = {name: weights[name] / total for name in OPERATORS}
        self.enabled = tuple(name for name in OPERATORS if self.prior[name] > 0)
        self.floor = FLOOR_SHARE / len(self.enabled)
        self.quality = {name: self.prior[name] for name in self.enabled}
        self.probabilities = self._probabilities()
        self._uses: dict[str, int] = {}
        self._improvements: dict[str, int] = {}

    def weights(self) -> dict[str, float]:
        """Return the current probability of every operator, 0 for disabled ones."""
        return dict(self.probabilities)

    def record(self, operator: str, improved: bool) -> None:
        """Count one child whose new edit `operator` made."""
        self._uses[operator] = self._uses.get(operator, 0) + 1
        if improved:
            self._improvements[operator] = self._improvements.get(operator, 0) + 1

    def end_generation(self) -> tuple[OperatorCount, ...]:
        """Update the probabilities from this generation's counts and return them.

        The result has one entry per operator, in `OPERATORS` order, with the
        generation's counts and the probability for the next generation.
        """
        for name in self.enabled if self.adapt else ():
            uses = self._uses.get(name, 0)
            if uses:
                reward = self._improvements.get(name, 0) / uses
                self.quality[name] += RATE * (reward - self.quality[name])
        self.probabilities = self._probabilities()
        counts = tuple(
            OperatorCount(
                operator=name,
                uses=self._uses.get(name, 0),
                improvements=self._improvements.get(name, 0),
                probability=self.probabilities[name],
            )
            for name in OPERATORS
        )
        self._uses = {}
        self._improvements = {}
        return counts

    def _probabilities(self) -> dict[str, float]:
        if not self.adapt:
            return dict(self.prior)
        total = sum(self.quality.values())
        shares = (
            {name: self.quality[name] / total for name in self.enabled}
            if total > 0
            else {name: self.prior[name] for name in self.enabled}
        )
        spread = 1 - len(self.enabled) * self.floor
        result = {name: 0.0 for name in OPERATORS}
        for name in self.enabled:
            result[name] = self.floor + spread * shares[name]
        return result
