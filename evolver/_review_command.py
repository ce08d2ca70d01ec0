"""`evolver review`, `show`, `export` and `apply`: promoted variants as git patches."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Column, Table

from ._canary_command import STATUS_STYLES, add_archive_option, show_verdict
from ._errors import EXIT_OK, ConfigError

__all__ = ["REVIEW_COMMANDS", "add_review_parser", "review_command"]

#: The commands this module adds and `review_command` runs.
REVIEW_COMMANDS = ("review", "show", "export", "apply")

EXAMPLES = {
    "review": """\
examples:
  evolver review
  evolver review r1a2b3c4d --all --archive examples/stats
  evolver review --json
""",
    "show": """\
examples:
  evolver show 3fa2c1d0e9ab
  evolver show r1a2b3c4d:3fa2 --json
""",
    "export": """\
examples:
  evolver export 3fa2c1d0e9ab -o faster-normalise.patch
  git am faster-normalise.patch
""",
    "apply": """\
examples:
  evolver apply 3fa2c1d0e9ab
  evolver apply 3fa2c1d0e9ab --branch evolver/faster-normalise
""",
}


def add_review_parser(commands) -> None:
    """Add `review`, `show`, `export` and `apply` to the subparsers object."""
    from .cli import EXIT_CODES_HELP

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=EXAMPLES[name] + "\n" + EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_archive_option(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        return parser

    review = add(
        "review",
        "list the promoted variants of a run",
        "List the promoted variants of the newest or the given run: their change in "
        "each fitness objective against the original, edits, lines changed and the "
        "gate's verdict.",
    )
    review.add_argument("run", nargs="?", help="a run id (default: the newest run)")
    review.add_argument(
        "--all",
        action="store_true",
        help="also list gated candidates that were not promoted",
    )
    show = add(
        "show",
        "show a candidate's diff and the gate's evidence",
        "Print a candidate's diff, its lineage and the canary gate's figures, with the "
        "counterexample of a check that failed.",
    )
    show.add_argument(
        "candidate", metavar="ID", help="a candidate id, a unique prefix, or RUN:ID"
    )
    export = add(
        "export",
        "write a promoted variant as a patch for git am",
        "Write a promoted variant as a patch in git format-patch form, with a subject "
        "naming the target and the gain and the gate's evidence in the body. git am "
        "applies it in a clean clone of the target's repository.",
    )
    export.add_argument(
        "candidate", metavar="ID", help="a candidate id, a unique prefix, or RUN:ID"
    )
    export.add_argument(
        "-o", "--output", type=Path, help="the patch file (default: stdout)"
    )
    apply = add(
        "apply",
        "commit a promoted variant on a new branch",
        "Commit a promoted variant on a new branch of the target's repository, without "
        "changing the working tree, the index or the current branch. It is rejected "
        "when the target has uncommitted changes, or changed since the run so that "
        "the patch no longer applies.",
    )
    apply.add_argument(
        "candidate", metavar="ID", help="a candidate id, a unique prefix, or RUN:ID"
    )
    apply.add_argument(
        "--branch",
        help=(
            "the new branch (default: evolver/RUN-ID, such as "
            "evolver/r1a2b3c4-3fa2c1d0e9ab)"
        ),
    )


def review_command(arguments) -> int:
    """Run whichever of `review`, `show`, `export` and `apply` was requested."""
    from ._canary_lookup import find_archive, open_archive

    location = find_archive(arguments.archive)
    with open_archive(location, readonly=True) as archive:
        if arguments.command == "review":
            return _review(archive, arguments)
        if arguments.command == "show":
            return _show(archive, arguments)
        return _export_or_apply(archive, arguments)


def _review(archive, arguments) -> int:
    from ._canary_lookup import original_of, resolve_run

    run = resolve_run(archive, arguments.run)
    original = original_of(archive, run)
    verdicts = (
        archive.verdicts(run.run_id) if arguments.all else archive.promoted(run.run_id)
    )
    rows = [_summary(archive, run, verdict, original) for verdict in verdicts]
    if arguments.json:
        print(
            json.dumps(
                {"run_id": run.run_id, "target": run.target_path, "variants": rows},
                indent=2,
            )
        )
        return EXIT_OK

    console = Console()
    which = "gated candidates" if arguments.all else "promoted variants"
    if not rows:
        hint = (
            ""
            if arguments.all
            else " Add --all to list the gated ones that were not promoted."
        )
        console.print(f"Run {run.run_id} has no {which}.{hint}", highlight=False)
        return EXIT_OK
    table = Table(
        Column("id", no_wrap=True),
        "target",
        "failures",
        "cost",
        "edits",
        "lines",
        "verdict",
    )
    for row in rows:
        style = STATUS_STYLES.get(row["verdict"], "")
        table.add_row(
            row["candidate_id"],
            row["target"],
            _change_text(row["failures"]),
            _cost_text(row["cost"]),
            str(row["edits"]),
            f"+{row['lines_added']} -{row['lines_removed']}",
            f"[{style}]{row['verdict']}[/{style}]",
        )
    console.print(f"Run {run.run_id}: {len(rows)} {which}", highlight=False)
    console.print(table)
    return EXIT_OK


def _summary(archive, run, verdict, original) -> dict:
    """Describe one gated candidate against the original, for `review`."""
    from genomes import unified_diff

    candidate = archive.candidate(run.run_id, verdict.candidate_id)
    diff = unified_diff(run.target_source, candidate.source, Path(run.target_path).name)
    body = diff.splitlines()[3:]
    functions = (
        verdict.checks.get("differential", {}).get("figures", {}).get("functions", [])
    )
    name = Path(run.target_path).name
    cost = verdict.checks.get("cost", {}).get("figures", {})
    return {
        "candidate_id": candidate.candidate_id,
        "target": f"{name} ({', '.join(functions)})" if functions else name,
        "verdict": verdict.verdict,
        "promoted": verdict.promoted,
        "edits": candidate.edits,
        "lines_added": sum(line.startswith("+") for line in body),
        "lines_removed": sum(line.startswith("-") for line in body),
        "failures": {
            "original": None if original is None else original.failures,
            "candidate": candidate.failures,
        },
        "cost": {
            "meter": cost.get("meter") or candidate.detail.get("meter"),
            "original": None if original is None else original.cost,
            "candidate": candidate.cost,
            "gate_change": _gate_change(cost),
        },
    }


def _gate_change(figures: dict) -> float | None:
    if "improvement" in figures:
        return -figures["improvement"]
    return figures.get("median_change")


def _change_text(values: dict) -> str:
    before, after = values["original"], values["candidate"]
    if before is None or after is None:
        return "-" if after is None else str(after)
    return f"{after} ({after - before:+d})"


def _cost_text(values: dict) -> str:
    change = values["gate_change"]
    if change is not None:
        return f"{change:+.1%} {values['meter'] or ''} (gate)".replace("  ", " ")
    before, after = values["original"], values["candidate"]
    if before and after is not None and math.isfinite(after):
        return f"{(after - before) / before:+.1%} (search)"
    return "-"


def _show(archive, arguments) -> int:
    from genomes import Edit, unified_diff

    from ._canary_lookup import resolve_candidate
    from ._canary_verdict import Verdict

    run, candidate = resolve_candidate(archive, arguments.candidate)
    record = archive.verdict(run.run_id, candidate.candidate_id)
    diff = unified_diff(run.target_source, candidate.source, Path(run.target_path).name)
    edits = [Edit.from_json(edit).describe() for edit in candidate.genome]
    verdict = Verdict.from_record(record) if record is not None else None
    if arguments.json:
        data = {
            "run_id": run.run_id,
            "candidate_id": candidate.candidate_id,
            "target": run.target_path,
            "generation": candidate.generation,
            "operator": candidate.operator,
            "parents": list(candidate.parents),
            "edits": edits,
            "fitness": {"failures": candidate.failures, "cost": candidate.cost},
            "outcome": candidate.outcome,
            "diff": diff,
            "verdict": None if verdict is None else verdict.to_json(),
            "counterexample": "" if verdict is None else verdict.counterexample,
        }
        print(json.dumps(data, indent=2))
        return EXIT_OK

    console = Console()
    parents = ", ".join(candidate.parents) or "none"
    console.print(
        f"Candidate {candidate.candidate_id} of run {run.run_id} ({run.target_path}): "
        f"generation {candidate.generation}, operator {candidate.operator}, parents "
        f"{parents}",
        highlight=False,
    )
    for text in edits:
        console.print(f"  {text}", highlight=False, markup=False)
    console.print(Syntax(diff or "(no change)\n", "diff", theme="ansi_dark"))
    if verdict is None:
        console.print(
            f"Not gated yet. Run: evolver canary {run.run_id}:{candidate.candidate_id}",
            highlight=False,
        )
    else:
        show_verdict(console, verdict)
    return EXIT_OK


def _export_or_apply(archive, arguments) -> int:
    from ._canary_lookup import original_of, resolve_candidate
    from ._canary_patch import apply_patch, build_patch, locate_target

    run, candidate = resolve_candidate(archive, arguments.candidate)
    verdict = archive.verdict(run.run_id, candidate.candidate_id)
    spec = f"{run.run_id}:{candidate.candidate_id}"
    if verdict is None:
        raise ConfigError(
            f"Candidate {spec} has not been through the canary gate, and only promoted "
            f"variants leave a run. Gate it first: evolver canary {spec}"
        )
    if not verdict.promoted:
        raise ConfigError(
            f"Candidate {spec} was not promoted: the canary gate's verdict is "
            f"{verdict.verdict}. See why with: evolver show {spec}"
        )
    target = locate_target(Path(run.target_path))
    patch = build_patch(run, candidate, verdict, original_of(archive, run), target)

    if arguments.command == "export":
        return _export(patch, arguments)
    branch = arguments.branch or f"evolver/{run.run_id}-{candidate.candidate_id}"
    commit = apply_patch(patch, branch)
    if arguments.json:
        data = {"branch": branch, "commit": commit, "subject": patch.subject}
        print(json.dumps({**data, "repository": str(target.repository)}, indent=2))
        return EXIT_OK
    print(
        f"Committed {commit[:12]} on the new branch {branch} of "
        f"{target.repository}: {patch.subject}"
    )
    print(f"Switch to it with: git switch {branch}")
    return EXIT_OK


def _export(patch, arguments) -> int:
    text = patch.to_mbox()
    if arguments.output is not None:
        try:
            arguments.output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"Cannot write the patch to {arguments.output}: {error.strerror}. "
                "Choose a writable path for -o."
            ) from error
    if patch.target.repository is None:
        print(
            "evolver: the target is not inside a git repository, so the patch names "
            f"it {patch.target.path}, relative to its own folder.",
            file=sys.stderr,
        )
    if arguments.json:
        data = {
            "subject": patch.subject,
            "file": str(arguments.output or ""),
            "patch": text,
        }
        print(json.dumps(data, indent=2))
    elif arguments.output is None:
        sys.stdout.write(text)
    else:
        print(f"Wrote {arguments.output}: {patch.subject}")
    return EXIT_OK
