"""The bug corpus of the search study: single random edits that break a program.

A bug is one edit drawn by `Target.random_edit` from a random generator seeded with
the study's seed, the program's name and the attempt number, so the same seed and the
same program sources give the same corpus. An edit is kept when its variant runs to
the end of the suite in the wasm sandbox (outcome "ok") with at least one failing
test. Variants that time out, run out of fuel or memory, or fail to import are not
kept: repairing them measures the sandbox's limits more than the search.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from study_programs import Prepared

from evolver._executor import LocalExecutor, Task
from fitness import Evaluation, EvaluationSettings, Suite
from genomes import InvalidVariant, Target, unified_diff
from sandbox import Limits, Outcome

#: Attempts per kept bug at most. In the first study runs, one in two to four single
#: edits made a test fail; this bound keeps a program with few such edits from
#: stalling the study.
ATTEMPTS_PER_BUG = 8

#: Candidates evaluated together, per worker, while the corpus is built.
BATCH_PER_WORKER = 2


@dataclass(frozen=True)
class Bug:
    """A kept bug: its files, the edit that made it, and the tests it fails."""

    bug_id: str
    program: str
    attempt: int
    operator: str
    edit: dict
    diff: str
    #: The failing tests of the buggy program with the study's seed.
    failing: tuple[str, ...]
    folder: Path
    target: Path
    suite: Path

    def to_json(self) -> dict:
        return {
            "bug_id": self.bug_id,
            "program": self.program,
            "attempt": self.attempt,
            "operator": self.operator,
            "edit": self.edit,
            "diff": self.diff,
            "failing": list(self.failing),
            "target": str(self.target),
        }


def draw_bug_edits(prepared: Prepared, seed: int, attempts: int):
    """Yield (attempt, edit, variant source) for the first `attempts` draws.

    Each attempt has its own generator, seeded with text, so that an attempt's edit
    does not depend on how many attempts came before it or on PYTHONHASHSEED.
    """
    program = prepared.program
    target = Target.from_source(
        prepared.source, path=prepared.target.name, functions=program.functions
    )
    for attempt in range(attempts):
        rng = random.Random(f"study-bug:{seed}:{program.name}:{attempt}")
        edit = target.random_edit(rng)
        if edit is None:
            return
        try:
            source = target.apply((edit,)).source
        except InvalidVariant:
            continue
        if source != prepared.source:
            yield attempt, edit, source


def build_corpus(
    prepared: Prepared,
    *,
    seed: int,
    count: int,
    workers: int,
    scratch: Path,
    max_examples: int,
) -> tuple[list[Bug], int]:
    """Keep up to `count` bugs of one program; return them and the evaluations spent.

    The buggy target and a copy of the suite of each kept bug are written to
    `scratch/<bug_id>/`. The examples' own folders are never written.
    """
    program = prepared.program
    suite = Suite.from_file(prepared.suite)
    settings = EvaluationSettings(max_examples=max_examples, seed=seed)
    drawn = list(draw_bug_edits(prepared, seed, count * ATTEMPTS_PER_BUG))
    bugs: list[Bug] = []
    spent = 0
    batch = max(1, workers * BATCH_PER_WORKER)
    with LocalExecutor("wasm", workers, warm_memory=Limits().memory_bytes) as executor:
        for start in range(0, len(drawn), batch):
            chunk = drawn[start : start + batch]
            tasks = [
                Task(source, program.module, suite, settings, 1)
                for _, _, source in chunk
            ]
            evaluations = executor.evaluate_many(tasks)
            spent += len(tasks)
            for (attempt, edit, source), evaluation in zip(chunk, evaluations):
                if len(bugs) < count and _is_kept(evaluation):
                    bugs.append(
                        _write_bug(prepared, attempt, edit, source, evaluation, scratch)
                    )
            if len(bugs) >= count:
                break
    return bugs, spent


def _is_kept(evaluation: Evaluation) -> bool:
    return evaluation.outcome == Outcome.OK.value and evaluation.fitness.failures > 0


def _write_bug(
    prepared: Prepared,
    attempt: int,
    edit,
    source: str,
    evaluation: Evaluation,
    scratch: Path,
) -> Bug:
    program = prepared.program
    bug_id = f"{program.name}-{attempt}"
    folder = scratch / bug_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / prepared.target.name
    suite = folder / prepared.suite.name
    target.write_text(source, "utf-8")
    suite.write_text(prepared.suite.read_text("utf-8"), "utf-8")
    failing = tuple(test.name for test in evaluation.tests if not test.passed)
    return Bug(
        bug_id=bug_id,
        program=program.name,
        attempt=attempt,
        operator=edit.operator,
        edit=edit.to_json(),
        diff=unified_diff(prepared.source, source, prepared.target.name),
        failing=failing,
        folder=folder,
        target=target,
        suite=suite,
    )
