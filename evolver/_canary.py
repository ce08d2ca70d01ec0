"""The canary gate: a fresh, stricter re-evaluation that a finalist must pass.

A search rewards whatever its fitness measures, including a lucky pass on the
examples it happened to draw. The gate therefore re-evaluates each finalist in new
sandboxes, never in a guest the search used, with checks the search never ran:

1. suite: the suite on both sides with new hypothesis seeds and `examples_factor`
   times the search's examples. The candidate may fail no test that the original
   passes under the same seed.
2. differential: inputs for each function the genome changes, recorded from the
   suite's own calls and drawn from annotations, once, on the original. The same
   data is replayed on both sides in separate sandboxes and the results are
   compared on the host.
3. cost: with fuel, the median benchmark fuel must fall by `min_improvement`.
   With wall-clock seconds, interleaved timed runs are compared by a Mann-Whitney U
   test and Cliff's delta.
4. limits: the candidate may not print, or (where the sandbox reports it) use
   memory, more than a configured factor above the original.

Runs with more examples get the search's fuel and time limits multiplied by the
same factor.

Invariants: the candidate never runs in a sandbox whose report decides what the
original did, and the same configuration gives the same seeds. Cost per finalist,
with the defaults: 4 suite runs (2 seeds, 2 sides) at 5 times the examples, plus 3
differential runs. With wall-clock seconds, 20 timed suite runs come on top.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import libcst as cst

from archive import Archive, RunRecord
from fitness import EvaluationSettings, Suite
from genomes import Edit, Target

from ._canary_checks import (
    GateRequest,
    check_differential,
    check_limits,
    check_suite,
    run_suite,
)
from ._canary_config import CanaryConfig
from ._canary_cost import check_cost
from ._canary_verdict import Check, Verdict, combine
from ._config import RunConfig

__all__ = [
    "TouchedFunctions",
    "canary_candidate",
    "canary_run",
    "gate_seeds",
    "run_config_of",
    "store_verdict",
    "touched_functions",
]

_STEP = re.compile(r"(\w+)(?:\[(\d+)\])?")


@dataclass(frozen=True)
class TouchedFunctions:
    """The functions a genome changes: those the gate can call, and the others.

    `unchecked` maps the qualified name of each changed function that cannot be
    called with plain data to the reason.
    """

    checked: tuple[str, ...]
    unchecked: dict[str, str]


def touched_functions(target: Target, genome: Sequence[Edit]) -> TouchedFunctions:
    """Find the module-level function around each edit of `genome`.

    An edit inside a nested function counts for the module-level function that
    contains it. An edit outside every function, or whose location cannot be
    resolved, may change any function, so it counts for all module-level ones.
    """
    module = cst.parse_module(target.source)
    everything = [
        statement.name.value
        for statement in module.body
        if isinstance(statement, cst.FunctionDef) and not statement.asynchronous
    ]
    checked: dict[str, None] = {}
    unchecked: dict[str, str] = {}
    for edit in genome:
        chain = _definitions_around(module, edit.location)
        if not chain:
            checked.update(dict.fromkeys(everything))
            continue
        kind, name = chain[0]
        qualified = ".".join(name for _, name in chain)
        if kind == "function":
            checked[name] = None
        elif kind == "async function":
            unchecked[name] = "an async function returns a coroutine, not a value"
        else:
            unchecked[qualified] = "a method needs an instance, which is not plain data"
    return TouchedFunctions(tuple(checked), unchecked)


def _definitions_around(module: cst.Module, address: str) -> list[tuple[str, str]]:
    """Return (kind, name) of each def and class down to `address`, outermost first.

    The node at `address` counts when it is a def or class itself. An address that
    does not resolve gives an empty list.
    """
    node: object = module
    chain = []
    for step in address.split(".") if address else []:
        match = _STEP.fullmatch(step)
        if match is None:
            return []
        node = getattr(node, match.group(1), None)
        if match.group(2) is not None:
            index = int(match.group(2))
            is_sequence = isinstance(node, (list, tuple))
            node = node[index] if is_sequence and index < len(node) else None
        if isinstance(node, cst.FunctionDef):
            kind = "async function" if node.asynchronous else "function"
            chain.append((kind, node.name.value))
        elif isinstance(node, cst.ClassDef):
            chain.append(("class", node.name.value))
        elif not isinstance(node, cst.CSTNode):
            return []
    return chain


def gate_seeds(base: int, count: int, avoid: int) -> tuple[int, ...]:
    """Return `count` distinct hypothesis seeds made from `base`, none equal to `avoid`.

    `avoid` is the search's seed, so that the gate never repeats its examples.
    """
    rng = random.Random(f"evolver canary {base}")
    seeds: list[int] = []
    while len(seeds) < count:
        seed = rng.randrange(2**31)
        if seed != avoid and seed not in seeds:
            seeds.append(seed)
    return tuple(seeds)


def canary_candidate(
    target: Target,
    suite: Suite,
    source: str,
    genome: Sequence[Edit],
    *,
    search: EvaluationSettings,
    config: CanaryConfig | None = None,
    sandbox: str = "wasm",
    on_event: Callable[[str], None] | None = None,
    repair: bool = False,
) -> Verdict:
    """Run every check of the gate on one candidate and return the verdict.

    `source` must be what `genome` makes of `target`, so pass the minimised genome
    with its own source. `search` contains the examples, seed and limits the search
    used. `on_event` receives a short progress message before each sandbox run.
    With `repair` (the original fails tests) the candidate must pass every test, and
    the differential check uses only inputs from tests the original passes.
    """
    config = config or CanaryConfig()
    if target.apply(genome).source != source:
        raise ValueError(
            "The candidate's source is not what its genome makes of the target. "
            "Pass the source that target.apply(genome) returns."
        )
    base = search.seed if config.seed is None else config.seed
    request = GateRequest(
        module_name=target.module_name,
        original=target.source,
        candidate=source,
        edits=len(genome),
        suite=suite,
        search=search,
        config=config,
        sandbox=sandbox,
        seeds=gate_seeds(base, config.seeds, avoid=search.seed),
        on_event=on_event or (lambda message: None),
        repair=repair,
    )

    runs = []
    for seed in request.seeds:
        settings = EvaluationSettings(
            max_examples=request.examples,
            seed=seed,
            limits=request.limits,
            bench_repeats=search.bench_repeats,
        )
        request.on_event(f"suite: seed {seed}, original")
        original = run_suite(request, request.original, settings)
        request.on_event(f"suite: seed {seed}, candidate")
        candidate = run_suite(request, request.candidate, settings, request.edits)
        runs.append((original, candidate))
    touched = touched_functions(target, genome)
    checks: tuple[Check, ...] = (
        check_suite(request, runs),
        check_differential(request, touched.checked, touched.unchecked),
        check_cost(request, runs),
        check_limits(request, runs),
    )
    return Verdict(combine(checks), checks)


def store_verdict(
    archive: Archive, run_id: str, candidate_id: str, verdict: Verdict
) -> Verdict:
    """Store `verdict` with its candidate and return it with the ids filled in."""
    archive.add_verdict(
        run_id,
        candidate_id,
        verdict=verdict.verdict,
        checks=verdict.checks_json(),
        promoted=verdict.promoted,
    )
    return Verdict(verdict.verdict, verdict.checks, run_id, candidate_id)


def run_config_of(run: RunRecord) -> RunConfig:
    """Rebuild the configuration a run was started with from its archived record."""
    values = {
        item.name: run.config[item.name]
        for item in fields(RunConfig)
        if item.name in run.config
    }
    for key in ("target", "suite"):
        values[key] = Path(values.get(key) or run.target_path)
    if values.get("run_dir") is not None:
        values["run_dir"] = Path(values["run_dir"])
    values["functions"] = tuple(values.get("functions", ()))
    return RunConfig(**values)


def canary_run(
    archive: Archive,
    run_id: str,
    candidate_ids: Sequence[str],
    *,
    suite: Suite | None = None,
    config: CanaryConfig | None = None,
    on_event: Callable[[str, str], None] | None = None,
) -> list[Verdict]:
    """Gate stored candidates of a run and store each verdict in the archive.

    The target, the search's settings and the sandbox come from the run's record.
    The suite is read from the run's suite path unless `suite` is given. Each
    candidate is gated with its stored genome and source, so store a minimised
    finalist as a candidate before gating it. `on_event(candidate_id, message)`
    reports progress.
    """
    run = archive.run(run_id)
    run_config = run_config_of(run)
    target = Target.from_source(
        run.target_source, path=run.target_path, functions=run_config.functions or None
    )
    suite = suite or Suite.from_file(run_config.suite)
    search = EvaluationSettings(
        max_examples=run_config.max_examples, seed=run.seed, limits=run_config.limits
    )

    verdicts = []
    for candidate_id in candidate_ids:
        record = archive.candidate(run_id, candidate_id)
        genome = tuple(Edit.from_json(edit) for edit in record.genome)
        report = _progress_for(candidate_id, on_event)
        verdict = canary_candidate(
            target,
            suite,
            record.source,
            genome,
            search=search,
            config=config,
            sandbox=run_config.sandbox,
            on_event=report,
            repair=run_config.repair,
        )
        verdicts.append(store_verdict(archive, run_id, candidate_id, verdict))
    return verdicts


def _progress_for(
    candidate_id: str, on_event: Callable[[str, str], None] | None
) -> Callable[[str], None] | None:
    if on_event is None:
        return None
    return lambda message: on_event(candidate_id, message)
