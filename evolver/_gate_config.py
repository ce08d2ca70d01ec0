"""The `[gate]` table of a configuration: which targets the gate checks, and how."""

from __future__ import annotations

import keyword
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import Limits

from ._config import (
    build_config,
    describe_source,
    find_config_file,
    read_config_file,
)
from ._errors import ConfigError
from ._gate_stats import smallest_p_value

#: File name of the baseline, beside the configuration file, when `baseline` is not set.
BASELINE_FILE = "evolver-baseline.json"

#: Allowed regression in percent, per meter, when no threshold is configured. Fuel is
#: deterministic, so half a percent only absorbs a change of interpreter or harness.
#: Wall-clock medians of a few repeats move by several percent on a busy machine.
DEFAULT_THRESHOLDS = {"fuel": 0.5, "seconds": 5.0}

#: Evaluations per target and side with a wall-clock meter. Ten against ten lets the
#: rank test reach p below 1e-5 for a clear shift, at ten times the cost of one run.
DEFAULT_REPEATS = 10

#: Significance level of the rank test with a wall-clock meter.
DEFAULT_ALPHA = 0.01

#: Keys of the `[gate]` table, the types they accept and a fix for a bad value.
_GATE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "targets": (
        list,
        'a list of tables such as { target = "mod.py", suite = "test_mod.py" }',
    ),
    "baseline": (str, "a path to the baseline JSON file, relative to this file"),
    "threshold": (
        (int, float),
        "an allowed regression in percent, 0 or more, e.g. 0.5",
    ),
    "improvement": (
        (int, float),
        "a gain in percent, 0 or more, beyond which the gate reports an improvement",
    ),
    "benchmarks": (
        dict,
        (
            "a table of benchmark names and allowed regressions in percent, "
            "e.g. { bench_sort = 2.0 }"
        ),
    ),
    "max_examples": (int, "a whole number of hypothesis examples per test, at least 1"),
    "seed": (int, "a whole number"),
    "repeats": (
        int,
        "a whole number of evaluations per side with a wall-clock sandbox, at least 3",
    ),
    "alpha": ((int, float), "a significance level above 0 and below 1, e.g. 0.01"),
}

#: Keys of one table in `targets`.
_TARGET_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "target": (str, "a path to the Python module, relative to this file"),
    "suite": (str, "a path to the suite file, relative to this file"),
    "module": (str, "the plain name that the suite imports, such as stats"),
    "name": (str, "a short name for the target in the baseline and the reports"),
    "threshold": _GATE_KEYS["threshold"],
    "benchmarks": _GATE_KEYS["benchmarks"],
}


@dataclass(frozen=True)
class GateTarget:
    """One module the gate evaluates, with its suite and its own thresholds."""

    name: str
    target: Path
    suite: Path
    module: str
    #: Allowed regression in percent for every benchmark of this target, or None.
    threshold: float | None = None
    #: Allowed regression in percent per benchmark name.
    benchmarks: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GateConfig:
    """Everything the gate needs, validated, with paths made absolute."""

    source: Path
    targets: tuple[GateTarget, ...]
    baseline: Path
    sandbox: str = "wasm"
    limits: Limits = field(default_factory=Limits)
    max_examples: int = 20
    seed: int = 0
    threshold: float | None = None
    improvement: float | None = None
    benchmarks: dict[str, float] = field(default_factory=dict)
    repeats: int = DEFAULT_REPEATS
    alpha: float = DEFAULT_ALPHA

    @property
    def root(self) -> Path:
        """The folder of the configuration file, which relative paths start from."""
        return self.source.parent

    def threshold_for(self, target: GateTarget, benchmark: str, meter: str) -> float:
        """Return the allowed regression in percent from the most specific setting."""
        for value in (
            target.benchmarks.get(benchmark),
            self.benchmarks.get(benchmark),
            target.threshold,
            self.threshold,
        ):
            if value is not None:
                return value
        return DEFAULT_THRESHOLDS.get(meter, DEFAULT_THRESHOLDS["seconds"])

    def improvement_for(self, meter: str) -> float:
        """Return the gain in percent beyond which an improvement is reported."""
        if self.improvement is not None:
            return self.improvement
        return DEFAULT_THRESHOLDS.get(meter, DEFAULT_THRESHOLDS["seconds"])

    def relative(self, path: Path) -> str:
        """Return `path` relative to the configuration's folder, with `/` separators."""
        return Path(os.path.relpath(path, self.root)).as_posix()


def load_gate_config(location: Path, baseline: Path | None = None) -> GateConfig:
    """Find the configuration file at `location`, read it and validate the gate's keys.

    `baseline`, from the command line, replaces the file's `baseline` key.
    """
    config_file = _find_file(location)
    values = read_config_file(config_file)
    table = values.get("gate", {})
    place = _describe(config_file)
    if not isinstance(table, dict):
        raise ConfigError(
            f"gate in {config_file} is {table!r}, not a table. Write it as a [gate] "
            "table with keys such as targets and threshold."
        )
    for key, value in table.items():
        _check(key, value, _GATE_KEYS, place)
    _check_power(table, place)

    root = config_file.parent.resolve()
    targets = _collect_targets(values, table, root, config_file)
    _check_benchmark_names(table.get("benchmarks", {}), targets, place)
    run_config = build_config(_own_keys(values, targets[0]), {}, root, str(config_file))

    return GateConfig(
        source=config_file.resolve(),
        targets=targets,
        baseline=_baseline_path(table, baseline, root),
        sandbox=run_config.sandbox,
        limits=run_config.limits,
        max_examples=table.get("max_examples", run_config.max_examples),
        seed=table.get("seed", 0),
        threshold=_number(table.get("threshold")),
        improvement=_number(table.get("improvement")),
        benchmarks={
            name: float(value) for name, value in table.get("benchmarks", {}).items()
        },
        repeats=table.get("repeats", DEFAULT_REPEATS),
        alpha=float(table.get("alpha", DEFAULT_ALPHA)),
    )


def _find_file(location: Path) -> Path:
    if not location.exists():
        raise ConfigError(
            f"{location} does not exist. Give the folder that contains evolver.toml or "
            "pyproject.toml, or that file itself."
        )
    config_file = find_config_file(location)
    if config_file is None:
        raise ConfigError(
            f"{location} contains no evolver.toml or pyproject.toml. Write an "
            "evolver.toml with the keys target and suite, or a [gate] table that lists "
            "targets."
        )
    return config_file


def _describe(config_file: Path) -> str:
    if config_file.name == "pyproject.toml":
        return f"[tool.evolver.gate] in {config_file}"
    return f"[gate] in {config_file}"


def _check(key: str, value: Any, known: dict, place: str) -> None:
    if key not in known:
        names = ", ".join(sorted(known))
        raise ConfigError(f"Unknown key {key!r} in {place}. Known keys: {names}.")
    expected, fix = known[key]
    invalid = f"Invalid value {value!r} for {key} in {place}: use {fix}."
    if not isinstance(value, expected) or isinstance(value, bool):
        raise ConfigError(invalid)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(invalid)
    if key in ("threshold", "improvement") and value < 0:
        raise ConfigError(invalid)
    if key == "max_examples" and value < 1:
        raise ConfigError(invalid)
    if key == "repeats" and value < 3:
        raise ConfigError(invalid)
    if key == "alpha" and not 0 < value < 1:
        raise ConfigError(invalid)
    if key == "module" and (not value.isidentifier() or keyword.iskeyword(value)):
        raise ConfigError(invalid)
    if key == "name" and not value.strip():
        raise ConfigError(invalid)
    if key == "benchmarks":
        for name, percent in value.items():
            _check_benchmark_override(name, percent, place)


def _check_benchmark_override(name: str, percent: Any, place: str) -> None:
    fix = "an allowed regression in percent, 0 or more, e.g. 2.0"
    number = isinstance(percent, (int, float)) and not isinstance(percent, bool)
    if not number or not math.isfinite(percent) or percent < 0:
        raise ConfigError(
            f"Invalid value {percent!r} for benchmarks.{name} in {place}: use {fix}."
        )
    if not name.startswith("bench_"):
        raise ConfigError(
            f"Invalid benchmark name {name!r} in benchmarks in {place}: use the name "
            "of a bench_* function of the suite."
        )


def _collect_targets(
    values: dict, table: dict, root: Path, config_file: Path
) -> tuple[GateTarget, ...]:
    """Return the configuration's own target first, then the `[gate]` targets."""
    targets: list[GateTarget] = []
    own: GateTarget | None = None
    if "target" in values or "suite" in values:
        run_config = build_config(values, {}, root, str(config_file))
        paths = {"target": run_config.target, "suite": run_config.suite}
        _check_files(paths, describe_source(str(config_file)))
        stem = run_config.target.stem
        own = GateTarget(stem, run_config.target, run_config.suite, stem)
        targets.append(own)
    for index, entry in enumerate(table.get("targets", [])):
        place = f"targets[{index}] of {_describe(config_file)}"
        listed = _read_target(entry, root, place)
        same = [
            t for t in targets if (t.target, t.suite) == (listed.target, listed.suite)
        ]
        if same:
            # Listing the configuration's own target gives it thresholds of its own.
            targets[targets.index(same[0])] = listed
        else:
            targets.append(listed)
    if own is not None and own in targets:
        _module_name(own.module, own.target, describe_source(str(config_file)))
    if not targets:
        raise ConfigError(
            f"No target is configured for the gate in {config_file}. Set target and "
            "suite, or list targets in the [gate] table, e.g. targets = "
            '[{ target = "mod.py", suite = "test_mod.py" }].'
        )

    names = [target.name for target in targets]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(
                f"Two gate targets in {config_file} are named {name!r}. Give one of "
                "them a name key in its table in targets, e.g. name = "
                f'"{name}-2".'
            )
    return tuple(targets)


def _read_target(entry: Any, root: Path, place: str) -> GateTarget:
    if not isinstance(entry, dict):
        raise ConfigError(
            f"Invalid value {entry!r} for {place}: use a table such as "
            '{ target = "mod.py", suite = "test_mod.py" }.'
        )
    for key, value in entry.items():
        _check(key, value, _TARGET_KEYS, place)
    for key in ("target", "suite"):
        if key not in entry:
            raise ConfigError(f'{place} has no {key} key. Add {key} = "path".')

    paths = {}
    for key in ("target", "suite"):
        path = Path(entry[key])
        paths[key] = path if path.is_absolute() else (root / path).resolve()
    _check_files(paths, place)
    module: str = entry.get("module") or _module_name(
        paths["target"].stem, paths["target"], place
    )
    return GateTarget(
        name=entry.get("name") or module,
        target=paths["target"],
        suite=paths["suite"],
        module=module,
        threshold=_number(entry.get("threshold")),
        benchmarks={
            name: float(value) for name, value in entry.get("benchmarks", {}).items()
        },
    )


def _check_power(table: dict, place: str) -> None:
    """Reject wall-clock settings under which no regression can be significant."""
    repeats = table.get("repeats", DEFAULT_REPEATS)
    alpha = table.get("alpha", DEFAULT_ALPHA)
    if smallest_p_value(repeats, repeats) < alpha:
        return
    needed = repeats + 1
    while smallest_p_value(needed, needed) >= alpha:
        needed += 1
    raise ConfigError(
        f"repeats = {repeats} with alpha = {alpha} in {place} can never show a "
        f"wall-clock regression: {repeats} runs against {repeats} cannot give a "
        f"p-value below {alpha}. Set repeats to at least {needed}, or raise alpha."
    )


def _check_files(paths: dict[str, Path], place: str) -> None:
    for key, path in paths.items():
        if not path.is_file():
            state = "a folder" if path.is_dir() else "not found"
            raise ConfigError(
                f"The {key} {path} (set by {place}) is {state}. Set {key} to the path "
                "of a Python file."
            )


def _module_name(stem: str, target: Path, place: str) -> str:
    if not stem.isidentifier() or keyword.iskeyword(stem):
        raise ConfigError(
            f"The target file name {target.name} (set by {place}) gives the module "
            f"name {stem!r}, which no suite can import. List the target in the [gate] "
            'targets with module = "name", the name that the suite imports.'
        )
    return stem


def _check_benchmark_names(
    overrides: dict, targets: tuple[GateTarget, ...], place: str
) -> None:
    """Reject a threshold for a benchmark that no suite defines: most likely a typo."""
    from fitness import Suite, SuiteError

    defined: set[str] = set()
    for target in targets:
        try:
            suite = Suite.from_file(target.suite)
        except SuiteError as error:
            raise ConfigError(str(error)) from error
        defined.update(suite.benchmarks)
        for name in target.benchmarks:
            if name not in suite.benchmarks:
                raise ConfigError(
                    f"The benchmarks table of target {target.name} in {place} sets a "
                    f"threshold for {name}, which {target.suite} does not define. "
                    f"Use one of: {', '.join(suite.benchmarks) or 'none defined'}."
                )
    for name in overrides:
        if name not in defined:
            choices = ", ".join(sorted(defined)) or "none defined"
            raise ConfigError(
                f"benchmarks in {place} sets a threshold for {name}, which no target's "
                f"suite defines. Use one of: {choices}."
            )


def _own_keys(values: dict, first: GateTarget) -> dict:
    """Return the run keys with a target and suite, so that `build_config` checks them.

    A configuration that lists its targets only in `[gate]` still sets the sandbox and
    limits at the top level, so the first gate target takes the missing pair's place.
    """
    own = dict(values)
    own.setdefault("target", str(first.target))
    own.setdefault("suite", str(first.suite))
    return own


def _baseline_path(table: dict, flag: Path | None, root: Path) -> Path:
    if flag is not None:
        return flag.resolve()
    path = Path(table.get("baseline", BASELINE_FILE))
    return path if path.is_absolute() else (root / path).resolve()


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
