"""The end of a run: minimise the finalists, put them through the canary gate.

A finalist is one of the best variants of a run that improves on the original. Its
genome is first minimised (delta debugging on the edit list, each subset evaluated in
the sandbox like any candidate), so that the patch a person reviews contains no edit that
does not contribute. The minimised variant is stored as a candidate with the operator
`minimise`, then the canary gate re-evaluates it in fresh sandboxes, and its verdict is
stored with it. Only a passing verdict promotes.

The evaluations of minimisation are archived in one transaction after each finalist.
A resumed run does not replay them as a generation: it finds them by source hash, so
a run stopped here ends as an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from dataclasses import dataclass

from fitness import EvaluationSettings, Suite
from genomes import minimise

from ._canary import canary_candidate, store_verdict
from ._canary_config import CanaryConfig
from ._search import COST_TOLERANCE, Candidate, Search

#: Maximum evaluations that minimising one finalist may spend. ddmin needs about n²
#: for n edits at worst, so this covers genomes of up to 8 edits.
MAX_MINIMISE_EVALUATIONS = 64


@dataclass(frozen=True)
class Promotion:
    """The outcome of minimising and gating one finalist at the end of a run."""

    finalist: Candidate
    minimised: Candidate
    evaluations: int
    verdict: str
    promoted: bool
    summary: str

    def to_json(self) -> dict:
        evaluation = self.minimised.evaluation
        assert evaluation is not None
        return {
            "finalist": self.finalist.candidate_id,
            "candidate_id": self.minimised.candidate_id,
            "edits": len(self.minimised.genome),
            "edits_removed": len(self.finalist.genome) - len(self.minimised.genome),
            "minimise_evaluations": self.evaluations,
            "cost": evaluation.fitness.cost,
            "verdict": self.verdict,
            "promoted": self.promoted,
            "summary": self.summary,
        }


def no_worse(candidate: Candidate, reference: Candidate) -> bool:
    """Tell whether a subset of a genome keeps what the whole genome achieved.

    It must pass as the whole does, with no more failures, and cost at most
    `COST_TOLERANCE` more, the same tie the search's ranking uses.
    """
    mine, theirs = candidate.evaluation, reference.evaluation
    assert mine is not None and theirs is not None
    if theirs.passed and not mine.passed:
        return False
    if mine.fitness.failures > theirs.fitness.failures:
        return False
    return mine.fitness.cost <= theirs.fitness.cost * (1 + COST_TOLERANCE)


def promote(
    *,
    search: Search,
    finalists: list[Candidate],
    suite: Suite,
    settings: EvaluationSettings,
    canary: CanaryConfig,
    sandbox: str,
    note: Callable[[str], None],
    repair: bool = False,
) -> list[Promotion]:
    """Minimise each finalist, gate it, and store the candidate and its verdict.

    With `repair` the gate requires the candidate to pass every test, those the
    original fails included (see `canary_candidate`).
    """
    promotions = []
    gated: set[str] = set()
    for finalist in finalists:
        note(
            f"Minimising {finalist.candidate_id} "
            f"({len(finalist.genome)} edit{'s' if len(finalist.genome) != 1 else ''})"
        )
        result = minimise(
            finalist.genome,
            partial(search.evaluate_genome, parent=finalist),
            no_worse,
            max_evaluations=MAX_MINIMISE_EVALUATIONS,
        )
        minimised = search.evaluate_genome(result.edits, parent=finalist)
        search.write_minimise_records()
        if not minimised.genome:
            # Every edit can be dropped, so the finalist is no better than the original.
            continue
        if minimised.candidate_id in gated:
            # Finalists often minimise to the same variant, which is gated once.
            continue
        gated.add(minimised.candidate_id)
        note(f"Canary gate for {minimised.candidate_id}")
        verdict = canary_candidate(
            search.target,
            suite,
            minimised.source,
            minimised.genome,
            search=settings,
            config=canary,
            sandbox=sandbox,
            on_event=lambda message: note(f"  {message}"),
            repair=repair,
        )
        stored = store_verdict(search.archive, search.run_id, minimised.candidate_id, verdict)
        failed = [check.summary for check in verdict.checks if check.status != "pass"]
        promotions.append(
            Promotion(
                finalist=finalist,
                minimised=minimised,
                evaluations=result.evaluations,
                verdict=stored.verdict,
                promoted=stored.promoted,
                summary="; ".join(failed) or "every check passed",
            )
        )
    return promotions
