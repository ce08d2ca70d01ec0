"""Location weights: draw the sites of an operator in proportion to a weight per line.

Fault localisation scores the lines of a target (for example by Ochiai, in [0, 1]).
`LocationWeights` turns those scores into a weight per site: the score of the line
the site's edit starts on, plus `floor`, so that a site on a line no test points at
stays possible.

`sample_weighted` draws by rejection: it draws a site uniformly, as the operator
does, and keeps it with probability weight / maximum weight. A kept site is then
drawn exactly in proportion to its weight, without listing every site, which for
copy operators can mean millions of edits. With a floor f and scores up to 1, the
expected number of draws is at most (1 + f) / f (21 for the default floor).

NOTE: after `MAX_DRAWS` rejected draws the last draw is kept, which biases the
choice towards the uniform one only in the rare case where the weighted sites are
very few among many. An edit whose node spans several lines weighs by its first
line only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._edit import Edit
from ._errors import GenomeError

if TYPE_CHECKING:
    from ._operator_base import BaseOperator
    from ._target import Target

__all__ = ["DEFAULT_FLOOR", "LocationWeights", "sample_weighted"]

#: Weight added to every site. 0.05 makes a site on a line with score 1 about 20
#: times as likely as one on a line no failing test runs, so the search spends most
#: draws near the fault yet still reaches a fix that sits elsewhere.
DEFAULT_FLOOR = 0.05

#: Draws before the last one is kept. With the default floor a draw is kept with
#: probability at least 1/21, so 200 draws all fail with probability below 1e-4.
MAX_DRAWS = 200


@dataclass(frozen=True)
class LocationWeights:
    """A weight per line of the target: its score plus `floor`, floor for others."""

    scores: Mapping[int, float] = field(default_factory=dict)
    floor: float = DEFAULT_FLOOR

    def __post_init__(self) -> None:
        if not (math.isfinite(self.floor) and self.floor > 0):
            raise GenomeError(
                f"the location floor must be a finite number above 0, got "
                f"{self.floor!r}; use a small positive number such as {DEFAULT_FLOOR}."
            )
        for line, score in self.scores.items():
            if not (math.isfinite(score) and score >= 0):
                raise GenomeError(
                    f"the score of line {line} must be a finite number of 0 or more, "
                    f"got {score!r}."
                )

    @property
    def maximum(self) -> float:
        """The largest weight any site can have."""
        return max(self.scores.values(), default=0.0) + self.floor

    def weight(self, edit: Edit) -> float:
        """Return the weight of `edit`: the score of its line plus the floor."""
        score = self.scores.get(edit.line, 0.0) if edit.line is not None else 0.0
        return score + self.floor


def sample_weighted(
    operator: BaseOperator,
    target: Target,
    rng: random.Random,
    locations: LocationWeights,
) -> Edit | None:
    """Draw a site of `operator` in proportion to its weight in `locations`."""
    maximum = locations.maximum
    edit = None
    for _ in range(MAX_DRAWS):
        edit = operator.sample(target, rng)
        if edit is None or rng.random() * maximum < locations.weight(edit):
            return edit
    return edit
