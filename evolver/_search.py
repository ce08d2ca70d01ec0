"""The evolutionary search: NSGA-II over genomes of edits.

Each generation makes up to `population` new candidates from the current population,
by mutation (add, remove or replace one edit, drawn by the configured operator weights
or, with `adapt_operators`, by the probabilities of `_adaptation.OperatorBandit`) or by
crossover of two parents' edit lists (one-point by default). The selection strategy of
`_selection` picks the parents and keeps the survivors: by default DEAP's NSGA-II over
(failures, cost, edits), all minimised, keeps the best `population` of parents and
children. The rules of `_budget` decide when the run stops.

Invariants:
- A source already evaluated in this run is never evaluated again: candidates are
  identified by the hash of their normalised source, and a duplicate costs nothing.
- A variant that is not valid Python is counted and archived but never evaluated.
- All randomness comes from one `random.Random(seed)`, and results are recorded in task
  order whatever order workers finish in, so the same configuration and seed give the
  same run, with any number of workers.
- Every evaluated candidate is written to the archive, one transaction per generation,
  with the generation's operator statistics.
- The search state is a function of the seed and the archive. Resuming replays the
  saved generations: it makes their children again from the same random stream and takes
  their evaluations from the archive instead of the sandbox, so a resumed run continues
  exactly where the uninterrupted one would be.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from deap import base

from archive import Archive, CandidateRecord, OperatorStatsRecord
from fitness import Evaluation, EvaluationSettings, Fitness, Suite, TestOutcome
from genomes import (
    Edit,
    InvalidVariant,
    LocationWeights,
    Target,
    crossover,
    source_hash,
    unified_diff,
)

from ._adaptation import OperatorBandit, OperatorCount
from ._budget import COST_TOLERANCE, Standing, StopRules, StopWatch
from ._errors import ConfigError
from ._executor import LocalExecutor, Task
from ._selection import make_selection

#: Stand-in for an infinite cost inside NSGA-II, whose crowding distance cannot
#: subtract infinities.
_WORST_COST = 1e30
#: How many tries at making a new, unseen child before a generation is cut short.
_ATTEMPTS_PER_CHILD = 30
_CROSSOVER_RATE = 0.3
#: Operator of the candidates that minimising a finalist evaluates. They are not part
#: of any generation's children, so a resumed run does not replay them.
MINIMISE_OPERATOR = "minimise"


class _Fitness(base.Fitness):
    weights = (-1.0, -1.0, -1.0)


@dataclass
class Candidate:
    """A genome with its source, identity, lineage and evaluation."""

    genome: tuple[Edit, ...]
    source: str
    source_hash: str
    parents: tuple[str, ...]
    operator: str
    generation: int
    evaluation: Evaluation | None = None
    fitness: _Fitness = field(default_factory=_Fitness)
    #: Operator of the edit a mutation added or replaced, credited by the bandit.
    edit_operator: str = ""
    #: The parent a mutation changed, whose fitness the child is compared with.
    first_parent: Candidate | None = field(default=None, repr=False, compare=False)

    @property
    def candidate_id(self) -> str:
        return self.source_hash[:12]

    def set_evaluation(self, evaluation: Evaluation, failures: float | None = None) -> None:
        """Store `evaluation`; `failures` replaces its failure count as the objective."""
        self.evaluation = evaluation
        raw, cost, edits = evaluation.fitness.values
        objective = raw if failures is None else float(failures)
        self.fitness.values = (objective, cost if math.isfinite(cost) else _WORST_COST, edits)


@dataclass
class SearchStats:
    """Counters shown while a run progresses."""

    generation: int = 0
    evaluations: int = 0
    duplicates: int = 0
    invalid: int = 0
    outcomes: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    best: Candidate | None = None
    #: Why the run stopped, one of `_budget.STOP_REASONS`; empty while it runs.
    stopped: str = ""
    #: Per edit operator: children made, children that beat their parent, and the
    #: probability of the next draw.
    operators: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    original: Candidate
    best: tuple[Candidate, ...]
    stats: SearchStats


EventCallback = Callable[[str, SearchStats], None]
#: The failures objective of an evaluation, such as a weighted count of failing tests.
FailureObjective = Callable[[Evaluation], float]


class Search:
    """One evolution run of `target` against `suite`, recorded in `archive`.

    `failure_objective` replaces the failure count that ranks candidates (the
    archive keeps the raw count), and `locations` weights where edits are drawn.
    """

    def __init__(
        self,
        *,
        target: Target,
        suite: Suite,
        settings: EvaluationSettings,
        executor: LocalExecutor,
        archive: Archive,
        run_id: str,
        budget: int,
        population: int,
        max_edits: int,
        seed: int,
        weights: Mapping[str, float] | None = None,
        crossover: str = "one_point",
        on_event: EventCallback | None = None,
        failure_objective: FailureObjective | None = None,
        locations: LocationWeights | None = None,
        selection: str = "nsga2",
        islands: int = 4,
        migrants: int = 1,
        migration_interval: int = 5,
        adapt_operators: bool = False,
        time_budget: float | None = None,
        target_cost: float | None = None,
        plateau: int | None = None,
    ) -> None:
        self.target = target
        self.suite = suite
        self.settings = settings
        self.executor = executor
        self.archive = archive
        self.run_id = run_id
        self.budget = budget
        self.population_size = population
        self.max_edits = max_edits
        self.rng = random.Random(seed)
        self.weights = weights
        self.crossover = crossover
        self.failure_objective = failure_objective
        self.locations = locations
        self.stats = SearchStats()
        self.selection = make_selection(
            selection,
            population=population,
            tests=suite.tests,
            rng=self.rng,
            rank_key=_rank_key,
            islands=islands,
            migrants=migrants,
            migration_interval=migration_interval,
        )
        self.bandit = OperatorBandit(weights, adapt=adapt_operators)
        self.stop_watch = StopWatch(
            StopRules(budget, time_budget, target_cost, plateau)
        )
        self._on_event = on_event or (lambda kind, stats: None)
        self._seen: dict[str, Candidate] = {}
        self._evaluated: list[Candidate] = []
        # Invalid variants wait here to be written with their generation.
        self._invalid_records: list[CandidateRecord] = []
        # Candidates evaluated while minimising, not yet written.
        self._minimise_pending: list[Candidate] = []

    def evaluate_original(
        self, saved: Sequence[CandidateRecord] | None = None
    ) -> Candidate:
        """Evaluate the original, or take its evaluation from `saved` records."""
        source = self.target.source
        original = Candidate((), source, source_hash(source), (), "original", 0)
        if saved is None:
            self._evaluate_generation([original], generation=0)
        else:
            self._restore_generation([original], 0, saved)
        return original

    def run(
        self,
        original: Candidate,
        saved: Mapping[int, Sequence[CandidateRecord]] | None = None,
        saved_operator_stats: Mapping[int, Sequence[OperatorStatsRecord]] | None = None,
    ) -> SearchResult:
        """Search until a rule of `_budget` stops it or no unseen child can be made.

        `saved` contains the archived records of the generations a resumed run has
        already written, by generation. They are replayed, not evaluated again, and
        the operator statistics they make again must equal `saved_operator_stats`.
        """
        saved = dict(saved or {})
        saved_stats = dict(saved_operator_stats or {})
        self.stop_watch.start(_standing(original))
        generation = 1
        while True:
            replaying = generation in saved
            reason = self.stop_watch.stop_reason(self.stats.evaluations, replaying=replaying)
            if reason is not None:
                self.stats.stopped = reason
                break
            seeded = not self.selection.groups
            groups = [[original]] if seeded else self.selection.groups
            made = self._make_children(groups, generation, seeded=seeded)
            children = [child for group in made for child in group]
            if not children:
                # Only invalid variants or duplicates came out: keep the invalid ones.
                if self._invalid_records and generation not in saved:
                    self._write_generation(generation, [])
                self.stats.stopped = "exhausted"
                break
            if replaying:
                self._restore_generation(children, generation, saved.pop(generation))
                counts = self._end_generation(children)
                _check_operator_stats(generation, counts, saved_stats.get(generation))
            else:
                self._evaluate_generation(children, generation)
            if seeded:
                self.selection.seed(children, generation)
            else:
                self.selection.survive(made, generation)
            generation += 1
        return SearchResult(original=original, best=self.best(), stats=self.stats)

    def _end_generation(self, children: Sequence[Candidate]) -> tuple[OperatorCount, ...]:
        """Credit the bandit and the stop rules with a generation's evaluated children."""
        for child in children:
            if child.edit_operator and child.first_parent is not None:
                improved = _standing(child).beats(_standing(child.first_parent))
                self.bandit.record(child.edit_operator, improved)
        counts = self.bandit.end_generation()
        for count in counts:
            total = self.stats.operators.setdefault(
                count.operator, {"uses": 0, "improvements": 0, "probability": 0.0}
            )
            total["uses"] += count.uses
            total["improvements"] += count.improvements
            total["probability"] = count.probability
        self.stop_watch.end_generation([_standing(child) for child in children])
        return counts

    def evaluate_genome(self, genome: Sequence[Edit], *, parent: Candidate) -> Candidate:
        """Return the candidate that `genome` makes, evaluating it only if it is new.

        This serves minimisation: the candidates it evaluates are written by
        `write_minimise_records` with the operator `minimise`, outside the budget.
        A genome that makes invalid Python gets a fitness worse than any evaluation.
        """
        genome = tuple(genome)
        try:
            applied = self.target.apply(genome)
        except InvalidVariant as error:
            candidate = Candidate(genome, "", "", (parent.candidate_id,), MINIMISE_OPERATOR, 0)
            self._set_evaluation(candidate, self._invalid_evaluation(genome, str(error)))
            return candidate
        digest = source_hash(applied.source)
        known = self._seen.get(digest)
        if known is not None and known.evaluation is not None:
            return known
        candidate = Candidate(
            applied.applied,
            applied.source,
            digest,
            (parent.candidate_id,),
            MINIMISE_OPERATOR,
            self.stats.generation,
        )
        task = Task(
            candidate.source, self.target.module_name, self.suite, self.settings, len(genome)
        )
        (evaluation,) = self.executor.evaluate_many([task])
        self._set_evaluation(candidate, evaluation)
        self._seen[digest] = candidate
        self._minimise_pending.append(candidate)
        return candidate

    def write_minimise_records(self) -> None:
        """Write the candidates that minimisation evaluated since the last call."""
        if not self._minimise_pending:
            return
        records = [self._record(c, c.generation) for c in self._minimise_pending]
        self._minimise_pending = []
        self.archive.add_generation(self.run_id, self.stats.generation, records)

    def _invalid_evaluation(self, genome: tuple[Edit, ...], message: str) -> Evaluation:
        return Evaluation(
            fitness=Fitness(failures=len(self.suite.tests) + 1, cost=math.inf, edits=len(genome)),
            outcome="invalid",
            meter="",
            tests=(),
            benchmarks={},
            detail=message[:500],
            stderr_tail="",
            wall_seconds=0.0,
        )

    def _restore_generation(
        self,
        candidates: list[Candidate],
        generation: int,
        records: Sequence[CandidateRecord],
    ) -> None:
        """Give `candidates` the evaluations archived for them, as if just evaluated.

        Candidates that minimisation evaluated after the search are only made known,
        so that minimising again finds them instead of evaluating them twice.
        """
        for record in records:
            if record.operator == MINIMISE_OPERATOR:
                known = Candidate(
                    tuple(Edit.from_json(edit) for edit in record.genome),
                    record.source,
                    record.source_hash,
                    tuple(record.parents),
                    MINIMISE_OPERATOR,
                    record.generation,
                )
                self._set_evaluation(known, evaluation_from_record(record))
                self._seen[record.source_hash] = known
        records = [r for r in records if r.operator != MINIMISE_OPERATOR]
        stored = {r.source_hash: r for r in records if r.outcome != "invalid"}
        made = [c.source_hash for c in candidates]
        if sorted(made) != sorted(stored):
            raise ResumeMismatch(generation, len(made), len(stored))
        self.stats.generation = generation
        for candidate in candidates:
            self._account(candidate, evaluation_from_record(stored[candidate.source_hash]))
        for candidate in candidates:
            self._seen[candidate.source_hash] = candidate
        self._evaluated.extend(candidates)
        # The invalid variants of this generation are in the archive already.
        self._invalid_records = [r for r in self._invalid_records if r.generation != generation]
        self._on_event("generation", self.stats)

    def best(self, count: int = 5) -> tuple[Candidate, ...]:
        """Return the best evaluated variants, the smallest patch first among equals.

        Candidates are ordered by `_rank_key`. Within one level of (passing,
        failures), those within `COST_TOLERANCE` of the level's lowest cost count as
        equally cheap, so a smaller patch among them ranks first.
        """
        variants = sorted((c for c in self._evaluated if c.genome), key=_rank_key)
        lowest: dict[tuple, float] = {}
        for candidate in variants:
            lowest.setdefault(_rank_key(candidate)[:2], _rank_key(candidate)[2])

        def tolerant_key(candidate: Candidate):
            passing, failures, cost, edits = _rank_key(candidate)
            if cost <= lowest[(passing, failures)] * (1 + COST_TOLERANCE):
                return (passing, failures, 0, edits, cost)
            return (passing, failures, 1, cost, edits)

        variants.sort(key=tolerant_key)
        return tuple(variants[:count])

    def _make_children(
        self, groups: Sequence[Sequence[Candidate]], generation: int, *, seeded: bool
    ) -> list[list[Candidate]]:
        """Make each group's share of a generation's children from its own parents."""
        room = min(self.population_size, self.budget - self.stats.evaluations)
        shares = [room] if seeded else self.selection.shares(room)
        made: list[list[Candidate]] = []
        for group, share in zip(groups, shares, strict=True):
            children: list[Candidate] = []
            attempts = 0
            while len(children) < share and attempts < share * _ATTEMPTS_PER_CHILD:
                attempts += 1
                if seeded:
                    genome, operator, lineage, edit = self._first_genome(group[0])
                else:
                    genome, operator, lineage, edit = self._vary(group)
                if genome is None:
                    continue
                child = self._materialise(genome, operator, lineage, generation, edit)
                if child is not None:
                    children.append(child)
            made.append(children)
        return made

    def _draw_edit(self) -> Edit | None:
        # Without adaptation the configured weights are passed as they are, so that
        # such runs draw from the random stream exactly as before adaptation existed.
        weights = self.bandit.weights() if self.bandit.adapt else self.weights
        return self.target.random_edit(self.rng, weights=weights, locations=self.locations)

    def _first_genome(self, original: Candidate):
        edit = self._draw_edit()
        operator = edit.operator if edit else ""
        return ((edit,) if edit else None), "mutation:add", (original,), operator

    def _vary(self, population: Sequence[Candidate]):
        first = self.selection.pick_parent(population, self.rng)
        if len(population) > 1 and self.rng.random() < _CROSSOVER_RATE:
            second = self.selection.pick_parent(population, self.rng)
            child, _ = crossover(self.crossover, self.rng, first.genome, second.genome)
            return child or None, f"crossover:{self.crossover}", (first, second), ""
        genome, kind, edit = self._mutate(first.genome)
        return genome, f"mutation:{kind}", (first,), edit

    def _mutate(self, genome: tuple[Edit, ...]):
        """Return the changed genome, the kind of change and the new edit's operator."""
        choices = ["add", "replace"] + (["remove"] if len(genome) > 1 else [])
        kind = self.rng.choice(choices)
        if kind == "remove":
            index = self.rng.randrange(len(genome))
            return genome[:index] + genome[index + 1 :], kind, ""
        edit = self._draw_edit()
        if edit is None:
            return None, kind, ""
        if kind == "add" and len(genome) < self.max_edits:
            return genome + (edit,), kind, edit.operator
        index = self.rng.randrange(len(genome))
        return genome[:index] + (edit,) + genome[index + 1 :], "replace", edit.operator

    def _materialise(
        self, genome, operator, lineage, generation, edit_operator=""
    ) -> Candidate | None:
        genome = tuple(dict.fromkeys(genome))[: self.max_edits]
        parents = tuple(parent.candidate_id for parent in lineage)
        try:
            applied = self.target.apply(genome)
        except InvalidVariant as error:
            if edit_operator:
                # A child that is not valid Python is a failed try of its operator.
                self.bandit.record(edit_operator, improved=False)
            self._record_invalid(genome, parents, operator, generation, str(error))
            return None
        digest = source_hash(applied.source)
        if digest in self._seen:
            self.stats.duplicates += 1
            return None
        candidate = Candidate(
            applied.applied, applied.source, digest, parents, operator, generation
        )
        candidate.edit_operator = edit_operator
        candidate.first_parent = lineage[0]
        self._seen[digest] = candidate
        return candidate

    def _record_invalid(self, genome, parents, operator, generation, message) -> None:
        self.stats.invalid += 1
        digest = hashlib.sha256(repr([e.to_json() for e in genome]).encode()).hexdigest()
        if digest in self._seen:
            return
        self._seen[digest] = Candidate(genome, "", digest, parents, operator, generation)
        record = CandidateRecord(
            candidate_id="x" + digest[:11],
            run_id=self.run_id,
            generation=generation,
            source_hash=digest,
            source="",
            genome=[edit.to_json() for edit in genome],
            parents=parents,
            operator=operator,
            outcome="invalid",
            failures=None,
            cost=None,
            edits=len(genome),
            detail={"error": message[:500]},
        )
        self._invalid_records.append(record)

    def _evaluate_generation(self, candidates: list[Candidate], generation: int) -> None:
        self.stats.generation = generation
        self._on_event("generation", self.stats)
        tasks = [
            Task(c.source, self.target.module_name, self.suite, self.settings, len(c.genome))
            for c in candidates
        ]

        def on_result(index: int, evaluation: Evaluation) -> None:
            self._account(candidates[index], evaluation)
            self._on_event("evaluated", self.stats)

        self.executor.evaluate_many(tasks, on_result)
        for candidate in candidates:
            self._seen[candidate.source_hash] = candidate
        self._evaluated.extend(candidates)
        records = [self._record(c, generation) for c in candidates]
        # Generation 0 is the original alone, which no operator made.
        counts = self._end_generation(candidates) if generation else ()
        self._write_generation(generation, records, counts)

    def _set_evaluation(self, candidate: Candidate, evaluation: Evaluation) -> None:
        objective = self.failure_objective
        candidate.set_evaluation(evaluation, objective(evaluation) if objective else None)

    def _account(self, candidate: Candidate, evaluation: Evaluation) -> None:
        self._set_evaluation(candidate, evaluation)
        self.stats.evaluations += 1
        self.stats.outcomes[evaluation.outcome] += 1
        best = self.stats.best
        # Ties go to the earlier child, so the order in which workers finish does
        # not change what the display calls best.
        if candidate.genome and (
            best is None
            or (_rank_key(candidate), candidate.generation)
            < (_rank_key(best), best.generation)
        ):
            self.stats.best = candidate

    def _write_generation(
        self,
        generation: int,
        records: list[CandidateRecord],
        counts: Sequence[OperatorCount] = (),
    ) -> None:
        invalid = [r for r in self._invalid_records if r.generation == generation]
        self._invalid_records = [r for r in self._invalid_records if r.generation != generation]
        operator_stats = [
            OperatorStatsRecord(
                self.run_id,
                generation,
                count.operator,
                count.uses,
                count.improvements,
                count.probability,
            )
            for count in counts
        ]
        self.archive.add_generation(self.run_id, generation, records + invalid, operator_stats)

    def _record(self, candidate: Candidate, generation: int) -> CandidateRecord:
        evaluation = candidate.evaluation
        assert evaluation is not None
        detail = evaluation.to_json()
        detail["diff"] = unified_diff(
            self.target.source, candidate.source, self.target.path.name
        )
        return CandidateRecord(
            candidate_id=candidate.candidate_id,
            run_id=self.run_id,
            generation=generation,
            source_hash=candidate.source_hash,
            source=candidate.source,
            genome=[edit.to_json() for edit in candidate.genome],
            parents=candidate.parents,
            operator=candidate.operator,
            outcome=evaluation.outcome,
            failures=evaluation.fitness.failures,
            cost=evaluation.fitness.cost,
            edits=len(candidate.genome),
            detail=detail,
        )


def _standing(candidate: Candidate) -> Standing:
    assert candidate.evaluation is not None
    fitness = candidate.evaluation.fitness
    # The failures objective, which repair mode weighs, rather than the raw count.
    return Standing(candidate.evaluation.passed, candidate.fitness.values[0], fitness.cost)


def _check_operator_stats(
    generation: int,
    counts: Sequence[OperatorCount],
    stored: Sequence[OperatorStatsRecord] | None,
) -> None:
    """Raise ResumeMismatch when replayed statistics differ from the stored ones.

    Runs written before the archive stored operator statistics have none to compare.
    """
    if not stored:
        return
    made = [(c.operator, c.uses, c.improvements, c.probability) for c in counts]
    kept = [(r.operator, r.uses, r.improvements, r.probability) for r in stored]
    if made != kept:
        raise ResumeMismatch(generation, len(made), len(kept), what="operator statistics")


def _rank_key(candidate: Candidate) -> tuple[int, float, float, int]:
    """Order passing candidates first, then by failures objective, cost and edits.

    A candidate passes when no test failed and the sandbox finished the suite, so one
    that ran out of memory or time after its tests ranks after every passing one.
    """
    assert candidate.evaluation is not None
    fitness = candidate.evaluation.fitness
    passing = 0 if candidate.evaluation.passed else 1
    return (passing, candidate.fitness.values[0], fitness.cost, fitness.edits)


class ResumeMismatch(ConfigError):
    """A saved generation differs from what the search makes again from its seed."""

    def __init__(
        self, generation: int, made: int, stored: int, what: str = "candidates"
    ) -> None:
        super().__init__(
            f"Generation {generation} in the archive does not match what this evolver "
            f"makes again from the run's seed ({made} {what} made, {stored} stored, "
            "not the same ones). The target, the suite's results or evolver itself "
            "changed since the run was written, so it cannot be resumed exactly. Start "
            "a new run instead."
        )


def evaluation_from_record(record: CandidateRecord) -> Evaluation:
    """Rebuild the evaluation that `Search` archived as the record's detail."""
    detail = record.detail
    cost = record.cost if record.cost is not None else math.inf
    return Evaluation(
        fitness=Fitness(failures=record.failures or 0, cost=cost, edits=record.edits),
        outcome=record.outcome,
        meter=detail.get("meter", ""),
        tests=tuple(TestOutcome(**test) for test in detail.get("tests", ())),
        benchmarks=dict(detail.get("benchmarks", {})),
        detail=detail.get("detail", ""),
        stderr_tail=detail.get("stderr_tail", ""),
        wall_seconds=float(detail.get("wall_seconds", 0.0)),
        error_traceback=detail.get("error_traceback", ""),
    )
