"""Measure how well evolver's search repairs injected bugs and speeds up real programs.

    .venv/bin/python benchmarks/search_study.py --out study.json

It builds a corpus of single-edit bugs in four pyperformance programs and three
standard-library modules (`study_corpus.py`). Then it runs `evolver run --json` as a
subprocess once per strategy and bug (the repair table), and once per strategy and
clean program (the speed table). A strategy is a named set of `evolver run`
flags in `STRATEGIES` below. A strategy whose flags `evolver run --help` does not list
is reported and skipped, and so is the whole repair table when `--repair` is missing.

Repair table: a bug is repaired when a best candidate of the run passes every test,
and correct when that candidate also gives the clean program's results on the
canary gate's differential inputs (`study_runs.check_against_clean`). "unchecked"
counts repairs that check could not judge (no inputs of plain data, or a sandbox
that failed to start).
Speed table: the fuel of the cheapest passing candidate against the original's, and
whether the canary gate promoted a finalist.

Run time, measured on 2026-12-04 on a 2-core x86_64 virtual machine shared with
other work (load average 8 to 10): `--strategies one_point uniform` with the other
defaults (seed 0, budget 40, one bug per program, workers 2) took 22.6 minutes. That
evolver had no `--repair` flag, so the corpus (4.7 min) and eight speed runs (1.5 to
3.5 min each) ran. With that evolver the default run skips nsga2_adaptive and does
about half of that work. Once both default strategies and `--repair` exist, it does
the same eight speed runs plus 14 repair runs, which no measure here covers yet.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_corpus import Bug, build_corpus
from study_programs import PROGRAMS, SPEED_PROGRAMS, Prepared, prepare_program
from study_runs import (
    RunOutcome,
    candidate_source,
    check_against_clean,
    evaluations_to_pass,
    known_flags,
    median_or_none,
    missing_flags,
    passing_entries,
    run_evolver,
)
from study_tables import print_repair_table, print_speed_table

#: Each strategy is the `evolver run` flags that select it. The crossovers exist in
#: every evolver; selection, operator adaptation and the repair mode may not.
STRATEGIES: dict[str, tuple[str, ...]] = {
    "one_point": ("--crossover", "one_point"),
    "uniform": ("--crossover", "uniform"),
    "nsga2": ("--selection", "nsga2", "--no-adapt-operators"),
    "nsga2_adaptive": ("--selection", "nsga2", "--adapt-operators"),
    "lexicase": ("--selection", "lexicase", "--no-adapt-operators"),
    "lexicase_adaptive": ("--selection", "lexicase", "--adapt-operators"),
    "islands": ("--selection", "islands", "--no-adapt-operators"),
}

#: Strategies of a default run: the first search's crossover against selection with
#: operator adaptation. Two keep the default run within about half an hour.
DEFAULT_STRATEGIES = ("one_point", "nsga2_adaptive")

#: Flags that put `evolver run` in repair mode; without them there is no repair table.
REPAIR_FLAGS = ("--repair",)

#: Finalists minimised and gated in a speed run. One keeps the gate's cost small and
#: still shows whether the best variant is promoted.
SPEED_FINALISTS = 1

#: hypothesis examples per test in the corpus and in every run: evolver's default.
MAX_EXAMPLES = 20


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = argparse.ArgumentParser(
        description="Repair and speed-up study of evolver's search on real programs.",
        epilog="example: .venv/bin/python benchmarks/search_study.py --budget 20 "
        "--bugs 1 --programs bm_nqueens bisect --strategies one_point --out s.json",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the corpus and of every run (default 0)",
    )
    parser.add_argument(
        "--budget", type=int, default=40, help="evaluations per run (default 40)"
    )
    parser.add_argument(
        "--bugs",
        type=int,
        default=1,
        help="bugs kept per program, 0 for no repair table (default 1)",
    )
    parser.add_argument(
        "--programs",
        nargs="+",
        choices=sorted(PROGRAMS),
        default=list(PROGRAMS),
        metavar="NAME",
        help=f"programs of the corpus (default: all of {', '.join(PROGRAMS)})",
    )
    parser.add_argument(
        "--speed-programs",
        nargs="*",
        choices=sorted(PROGRAMS),
        default=list(SPEED_PROGRAMS),
        metavar="NAME",
        help="programs of the speed table (default: the pyperformance ones); none for no speed table",
    )
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=sorted(STRATEGIES),
        default=list(DEFAULT_STRATEGIES),
        metavar="NAME",
        help=f"strategies to compare (default: {' '.join(DEFAULT_STRATEGIES)})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="parallel evaluations of each run (default 2)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="folder for targets, bugs and archives (default: a new temporary folder, kept)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write every figure to this JSON file"
    )
    arguments = parser.parse_args(argv)

    if arguments.budget < 2:
        parser.error(
            f"--budget must be at least 2 (the original and one candidate), got {arguments.budget}"
        )
    if arguments.bugs < 0 or arguments.workers < 1:
        parser.error("--bugs must be 0 or more and --workers 1 or more")

    return arguments


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def select_strategies(
    names: Sequence[str], known: frozenset[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """Split `names` into runnable strategies and the missing flags of the others."""
    runnable, skipped = [], {}
    for name in names:
        missing = missing_flags(STRATEGIES[name], known)
        if missing:
            skipped[name] = missing
        else:
            runnable.append(name)
    return runnable, skipped


def common_arguments(
    arguments: argparse.Namespace,
    prepared: Prepared,
    target: Path,
    suite: Path,
    run_dir: Path,
) -> list[str]:
    flags = ["--target", str(target), "--suite", str(suite)]
    for function in prepared.program.functions:
        flags += ["--function", function]
    flags += ["--budget", str(arguments.budget), "--seed", str(arguments.seed)]
    flags += ["--workers", str(arguments.workers), "--max-examples", str(MAX_EXAMPLES)]
    return flags + ["--run-dir", str(run_dir)]


def repair_one(
    arguments, strategy: str, bug: Bug, prepared: Prepared, scratch: Path
) -> dict:
    """Run one repair of `bug` with `strategy` and judge the repaired variant."""
    run_dir = scratch / "runs" / "repair" / strategy / bug.bug_id
    flags = common_arguments(arguments, prepared, bug.target, bug.suite, run_dir)
    flags += [*REPAIR_FLAGS, "--finalists", "0", *STRATEGIES[strategy]]
    outcome = run_evolver(flags, bug.folder)

    record = _run_record(outcome) | {
        "strategy": strategy,
        "bug_id": bug.bug_id,
        "program": bug.program,
    }
    record.update(repaired=False, correct=None, evaluations_to_repair=None)
    if not outcome.ok:
        return record
    passing = passing_entries(outcome.report)
    if not passing:
        return record

    record["repaired"] = True
    record["candidate_id"] = passing[0]["candidate_id"]
    record["repair_diff"] = passing[0].get("diff", "")
    record["evaluations_to_repair"] = evaluations_to_pass(outcome.report)

    program = prepared.program
    correctness = check_against_clean(
        module=program.module,
        clean=prepared.source,
        repaired=candidate_source(outcome.report, passing[0]["candidate_id"]),
        suite=prepared.suite,
        functions=program.compared,
        seed=arguments.seed,
        max_examples=MAX_EXAMPLES,
    )
    record["correct"] = {"pass": True, "fail": False}.get(correctness.status)
    record["correctness"] = {
        "status": correctness.status,
        "summary": correctness.summary,
    }
    return record


def speed_one(arguments, strategy: str, prepared: Prepared, scratch: Path) -> dict:
    """Run one search for speed on a clean program with `strategy`."""
    run_dir = scratch / "runs" / "speed" / strategy / prepared.program.name
    flags = common_arguments(
        arguments, prepared, prepared.target, prepared.suite, run_dir
    )
    flags += ["--finalists", str(SPEED_FINALISTS), *STRATEGIES[strategy]]
    outcome = run_evolver(flags, prepared.folder)

    record = _run_record(outcome) | {
        "strategy": strategy,
        "program": prepared.program.name,
    }
    record.update(
        original_cost=None,
        best_cost=None,
        reduction=None,
        promoted=False,
        promoted_reduction=None,
    )
    if not outcome.ok:
        return record

    report = outcome.report
    original = report["original"]["cost"]
    # The original passes too, so a run that finds nothing faster reports 0%.
    costs = [entry["cost"] for entry in passing_entries(report) if entry.get("cost")]
    record["original_cost"] = original
    if original:
        record["best_cost"] = min([original, *costs])
        record["reduction"] = 1 - record["best_cost"] / original

    promoted = [gated for gated in report.get("gated", []) if gated.get("promoted")]
    record["promoted"] = bool(promoted)
    if original and promoted:
        record["promoted_reduction"] = (
            1 - min(gated["cost"] for gated in promoted) / original
        )
    return record


def _run_record(outcome: RunOutcome) -> dict:
    report = outcome.report or {}
    return {
        "exit_code": outcome.exit_code,
        "seconds": round(outcome.seconds, 1),
        "evaluations": report.get("evaluations"),
        "run_id": report.get("run_id"),
        "archive": report.get("archive"),
        "error": outcome.error,
    }


def build_all_corpora(
    arguments, prepared: dict[str, Prepared], scratch: Path
) -> list[Bug]:
    bugs: list[Bug] = []
    for name in arguments.programs:
        started = time.monotonic()
        kept, spent = build_corpus(
            prepared[name],
            seed=arguments.seed,
            count=arguments.bugs,
            workers=arguments.workers,
            scratch=scratch / "bugs",
            max_examples=MAX_EXAMPLES,
        )
        bugs += kept
        operators = ", ".join(bug.operator for bug in kept) or "none"
        progress(
            f"corpus {name}: kept {len(kept)} of {spent} single edits ({operators}) in {time.monotonic() - started:.0f} s"
        )
    return bugs


def summarise_repairs(records: list[dict], strategies: list[str]) -> list[dict]:
    rows = []
    for strategy in strategies:
        runs = [record for record in records if record["strategy"] == strategy]
        repaired = [record for record in runs if record["repaired"]]
        rows.append(
            {
                "strategy": strategy,
                "bugs": len(runs),
                "repaired": len(repaired),
                "correct": sum(record["correct"] is True for record in repaired),
                "unchecked": sum(record["correct"] is None for record in repaired),
                "failed_runs": sum(record["exit_code"] != 0 for record in runs),
                "median_evaluations": median_or_none(
                    [
                        r["evaluations_to_repair"]
                        for r in repaired
                        if r["evaluations_to_repair"]
                    ]
                ),
                "seconds": round(sum(record["seconds"] for record in runs), 1),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Build the corpus, run the repair and speed tables, print them, write --out."""
    arguments = parse_arguments(argv)
    started = time.monotonic()
    scratch = arguments.scratch or Path(tempfile.mkdtemp(prefix="evolver-study-"))
    scratch = scratch.resolve()
    progress(f"scratch folder: {scratch}")

    known = known_flags()
    strategies, skipped = select_strategies(arguments.strategies, known)
    for name, missing in skipped.items():
        progress(
            f"skipping strategy {name}: evolver run does not know {', '.join(missing)}"
        )
    repair_missing = missing_flags(REPAIR_FLAGS, known)
    names = dict.fromkeys([*arguments.programs, *arguments.speed_programs])
    prepared = {
        name: prepare_program(PROGRAMS[name], scratch / "programs") for name in names
    }

    bugs = build_all_corpora(arguments, prepared, scratch) if arguments.bugs else []
    repairs: list[dict] = []
    if repair_missing:
        progress(
            f"no repair table: evolver run does not know {', '.join(repair_missing)}"
        )
    else:
        total = len(strategies) * len(bugs)
        for strategy in strategies:
            for bug in bugs:
                record = repair_one(
                    arguments, strategy, bug, prepared[bug.program], scratch
                )
                repairs.append(record)
                progress(
                    f"[{len(repairs)}/{total}] repair {strategy} {bug.bug_id}: repaired={record['repaired']} correct={record['correct']} in {record['seconds']} s {record['error'][-200:]}"
                )

    speeds: list[dict] = []
    total = len(strategies) * len(arguments.speed_programs)
    for strategy in strategies:
        for name in arguments.speed_programs:
            record = speed_one(arguments, strategy, prepared[name], scratch)
            speeds.append(record)
            progress(
                f"[{len(speeds)}/{total}] speed {strategy} {name}: reduction={record['reduction']} promoted={record['promoted']} in {record['seconds']} s {record['error'][-200:]}"
            )

    repair_rows = summarise_repairs(repairs, strategies)
    if not repair_missing:
        print_repair_table(repair_rows)
    print_speed_table(speeds)
    seconds = time.monotonic() - started
    print(f"\nwall time: {seconds / 60:.1f} min; scratch folder: {scratch}")

    if arguments.out:
        figures = {
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in vars(arguments).items()
            },
            "python": sys.version.split()[0],
            "skipped_strategies": skipped,
            "repair_flags_missing": repair_missing,
            "programs": {
                name: {"module": p.program.module, "source_sha256": p.source_sha256}
                for name, p in prepared.items()
            },
            "bugs": [bug.to_json() for bug in bugs],
            "repairs": repairs,
            "repair_table": repair_rows,
            "speed": speeds,
            "wall_seconds": round(seconds, 1),
        }
        arguments.out.write_text(json.dumps(figures, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
