"""`evolver eval`: evaluate one file against a suite."""

from __future__ import annotations

import ast
import json
import keyword
import math
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fitness import (
    RESERVED_MODULE_NAMES,
    Evaluation,
    EvaluationSettings,
    Suite,
    SuiteError,
    evaluate,
    warm_sandbox,
)
from sandbox import BACKENDS, SandboxError, boundary_warning, create_sandbox

from ._config import build_limits
from ._errors import EXIT_OK, EXIT_TESTS_FAILED, ConfigError

#: The guest's ImportError message for a module that it cannot find.
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


def add_backend_arguments(command) -> None:
    """Add the options of the native backends to the `eval` or `run` parser."""
    command.add_argument(
        "--image",
        help=(
            "Docker image of the docker sandbox (default: $EVOLVER_DOCKER_IMAGE, or "
            "evolver-sandbox:bookworm, which evolver sandbox build-image makes)"
        ),
    )
    command.add_argument(
        "--bench-repeats",
        type=int,
        help=(
            "timed repetitions of each benchmark where the cost is wall-clock seconds "
            f"(docker, process); the cost is their median (default "
            f"{EvaluationSettings.bench_repeats})"
        ),
    )


def sandbox_options(name: str, arguments) -> dict:
    """Return the constructor options of backend `name` that the flags set."""
    image = getattr(arguments, "image", None)
    if image is not None and name != "docker":
        raise ConfigError(
            f"--image {image} applies to the docker sandbox only, not to {name}. "
            "Add --sandbox docker or drop --image."
        )
    return {"image": image} if image is not None else {}


def eval_command(arguments) -> int:
    candidate: Path = arguments.candidate
    _reject_folder(candidate, "candidate", "the candidate argument")
    if not candidate.is_file():
        raise ConfigError(
            f"The candidate file {candidate} does not exist. Give the path of the "
            "Python file to evaluate."
        )
    _reject_folder(arguments.suite, "suite", "--suite")
    try:
        suite = Suite.from_file(arguments.suite)
    except SuiteError as error:
        raise ConfigError(str(error)) from error
    if arguments.max_examples < 1:
        raise ConfigError(
            f"Invalid value {arguments.max_examples} for --max-examples: use 1 or more."
        )
    if arguments.sandbox not in BACKENDS:
        raise ConfigError(
            f"Invalid value {arguments.sandbox!r} for --sandbox: use one of "
            f"{', '.join(BACKENDS)}."
        )
    repeats = getattr(arguments, "bench_repeats", None)
    if repeats is not None and repeats < 1:
        raise ConfigError(f"Invalid value {repeats} for --bench-repeats: use 1 or more.")
    options = sandbox_options(arguments.sandbox, arguments)
    module = _module_name(arguments.module, candidate)
    limits = build_limits(
        {
            "fuel": arguments.fuel,
            "memory_mb": arguments.memory_mb,
            "seconds": arguments.seconds,
            "output_kb": arguments.output_kb,
        }
    )

    source = candidate.read_text(encoding="utf-8")
    settings = EvaluationSettings(
        max_examples=arguments.max_examples,
        seed=arguments.seed,
        limits=limits,
        bench_repeats=repeats or EvaluationSettings.bench_repeats,
    )
    warning = boundary_warning(arguments.sandbox)
    if warning is not None:
        print(f"evolver: {warning}", file=sys.stderr)
    if arguments.warm and arguments.sandbox != "wasm":
        raise ConfigError(
            f"--warm applies to the wasm sandbox only, not to {arguments.sandbox}. "
            "Drop --warm or use --sandbox wasm."
        )
    try:
        if arguments.warm:
            sandbox = warm_sandbox(limits.memory_bytes)
        else:
            sandbox = create_sandbox(arguments.sandbox, **options)
    except (SandboxError, ValueError) as error:
        raise ConfigError(f"The {arguments.sandbox} sandbox cannot start: {error}") from error
    with sandbox:
        evaluation = evaluate(sandbox, source, module, suite, settings)
    hints = _import_hints(evaluation, suite, module)

    code = EXIT_TESTS_FAILED if arguments.check and not evaluation.passed else EXIT_OK
    if arguments.json:
        print(json.dumps({**evaluation.to_json(), "hints": hints}, indent=2))
        return code
    _show(evaluation, candidate, suite, hints)
    return code


def _reject_folder(path: Path, role: str, flag: str) -> None:
    if path.is_dir():
        raise ConfigError(
            f"The {role} {path} is a folder, not a file. Give {flag} the path of a "
            "Python file."
        )


def _module_name(module_flag: str | None, candidate: Path) -> str:
    name = _checked_module_name(module_flag, candidate)
    if name in RESERVED_MODULE_NAMES:
        raise ConfigError(reserved_name_message(name))
    return name


def reserved_name_message(name: str) -> str:
    """Return the error for a target whose module name the harness takes."""
    return (
        f"The module name {name!r} is taken by evolver's harness inside the sandbox, "
        f"so the suite's import would not find the target. Rename the module and its "
        f"import in the suite; {', '.join(RESERVED_MODULE_NAMES)} are reserved."
    )


def _checked_module_name(module_flag: str | None, candidate: Path) -> str:
    if module_flag is not None:
        if not module_flag.isidentifier() or keyword.iskeyword(module_flag):
            raise ConfigError(
                f"Invalid value {module_flag!r} for --module: use the plain name that the "
                "suite imports, a Python identifier such as stats (no dots, no .py)."
            )
        return module_flag
    if not candidate.stem.isidentifier() or keyword.iskeyword(candidate.stem):
        raise ConfigError(
            f"The candidate's file name {candidate.name} gives the module name "
            f"{candidate.stem!r}, which no suite can import. Pass --module with the "
            "name that the suite imports."
        )
    return candidate.stem


def _import_hints(evaluation: Evaluation, suite: Suite, module: str) -> list[str]:
    """Explain an import error of the guest that names a module it cannot find."""
    match = _MISSING_MODULE.search(evaluation.detail)
    if match is None:
        return []
    missing = match.group(1).split(".")[0]
    if missing == module:
        return []
    if missing in _imported_modules(suite.source):
        return [
            f"The suite imports {missing}, but the candidate was loaded as {module}. "
            f"If the candidate is that module, pass --module {missing}."
        ]
    if evaluation.backend == "docker":
        return [
            f"The docker sandbox's image has no module named {missing}. Build an image "
            "that includes its Debian package, for example: evolver sandbox build-image "
            f"--suite-packages python3-{missing}"
        ]
    return [
        f"The sandbox has no module named {missing}. The guest has the standard "
        "library and hypothesis only; code that needs other packages cannot run in it."
    ]


def _imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _show(
    evaluation: Evaluation, candidate: Path, suite: Suite, hints: list[str]
) -> None:
    console = Console()
    cost = evaluation.fitness.cost
    console.print(
        f"{candidate}: {evaluation.fitness.failures} of {len(suite.tests)} tests failed, "
        f"cost {_format_cost(cost, evaluation.meter)}, "
        f"sandbox {evaluation.backend} outcome {evaluation.outcome}"
        + (f" ({evaluation.detail})" if evaluation.detail else "")
    )
    table = Table("test", "result", "error")
    for test in evaluation.tests:
        table.add_row(test.name, "pass" if test.passed else "FAIL", test.error)
    console.print(table)
    for name, value in evaluation.benchmarks.items():
        console.print(f"  {name}: {_format_cost(value, evaluation.meter)}")
    for hint in hints:
        console.print(f"Hint: {hint}", highlight=False)


def _format_cost(value: float, meter: str) -> str:
    if not math.isfinite(value):
        return "-"
    if meter == "seconds":
        return f"{value:.6f} s"
    return f"{value:,.0f} {meter}"
