"""`evolver eval`: evaluate one file against a suite."""

from __future__ import annotations

import json
import math

from rich.console import Console
from rich.table import Table

from fitness import EvaluationSettings, Suite, SuiteError, evaluate
from sandbox import SandboxError, create_sandbox

from ._errors import EXIT_OK, ConfigError


def eval_command(arguments) -> int:
    candidate = arguments.candidate
    if not candidate.is_file():
        raise ConfigError(f"The candidate file {candidate} does not exist.")
    try:
        suite = Suite.from_file(arguments.suite)
    except SuiteError as error:
        raise ConfigError(str(error)) from error
    if arguments.max_examples < 1:
        raise ConfigError(
            f"Invalid value {arguments.max_examples} for --max-examples: use 1 or more."
        )
    source = candidate.read_text(encoding="utf-8")
    module = arguments.module or candidate.stem
    settings = EvaluationSettings(max_examples=arguments.max_examples, seed=arguments.seed)
    try:
        sandbox = create_sandbox(arguments.sandbox)
    except (SandboxError, ValueError) as error:
        raise ConfigError(f"The {arguments.sandbox} sandbox cannot start: {error}") from error
    with sandbox:
        evaluation = evaluate(sandbox, source, module, suite, settings)
    if arguments.json:
        print(json.dumps(evaluation.to_json(), indent=2))
        return EXIT_OK
    console = Console()
    cost = evaluation.fitness.cost
    console.print(
        f"{candidate}: {evaluation.fitness.failures} of {len(suite.tests)} tests failed, "
        f"cost {cost if math.isfinite(cost) else '-'} {evaluation.meter}, "
        f"sandbox outcome {evaluation.outcome}"
        + (f" ({evaluation.detail})" if evaluation.detail else "")
    )
    table = Table("test", "result", "error")
    for test in evaluation.tests:
        table.add_row(test.name, "pass" if test.passed else "FAIL", test.error)
    console.print(table)
    for name, value in evaluation.benchmarks.items():
        console.print(f"  {name}: {value:,.0f} {evaluation.meter}")
    return EXIT_OK
