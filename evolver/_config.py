"""The run configuration: read once from TOML and flags, validated, then frozen."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from genomes import CROSSOVERS, GenomeError, validate_weights
from sandbox import BACKENDS, Limits

from ._errors import ConfigError
from ._selection import SELECTIONS

CONFIG_FILE = "evolver.toml"

#: Most parallel evaluations a configuration may ask for. Each worker is a process
#: with its own interpreter (tens of MiB), so a typo must not start thousands.
MAX_WORKERS = 256


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know, with paths made absolute."""

    target: Path
    suite: Path
    functions: tuple[str, ...] = ()
    budget: int = 400
    population: int = 20
    seed: int = 0
    sandbox: str = "wasm"
    workers: int = 0  # 0 means one per core
    max_examples: int = 20
    max_edits: int = 8
    #: How two parents' edit lists are recombined: one of `genomes.CROSSOVERS`.
    crossover: str = "one_point"
    #: Best variants that are minimised and put through the canary gate; 0 skips both.
    finalists: int = 3
    #: With the wasm sandbox, evaluate each candidate in a fork of one started guest
    #: instead of starting a guest for each. The canary gate always starts fresh ones.
    warm: bool = True
    #: Go on when the original fails its suite, and search for a variant that passes.
    repair: bool = False
    #: In repair mode, a test the original fails counts this many times while it still
    #: fails, and any other failing test counts once. At 10, a variant that fixes one
    #: failing test and breaks up to 9 passing ones still ranks above the original. So
    #: the search can pass through such partial repairs, but not through one that
    #: breaks 10 or more tests to fix one.
    repair_weight: int = 10
    #: Selection strategy: one of `_selection.SELECTIONS`.
    selection: str = "nsga2"
    #: Sub-populations of the `islands` selection.
    islands: int = 4
    #: Best candidates each island sends to the next one when they migrate.
    migrants: int = 1
    #: Generations between two migrations of the `islands` selection.
    migration_interval: int = 5
    #: Adapt the edit operators' probabilities to how often their children improve.
    adapt_operators: bool = False
    #: Seconds of search after which no new generation starts; None for no limit.
    time_budget: float | None = None
    #: Stop after the generation in which a passing variant costs at most this;
    #: None for no target.
    target_cost: float | None = None
    #: Stop after this many generations without a better best rank; None never.
    plateau: int | None = None
    run_dir: Path | None = None
    fuel: int = Limits.fuel
    memory_mb: int = Limits.memory_bytes // (1024 * 1024)
    seconds: float = Limits.wall_seconds
    output_kb: int = Limits.output_bytes // 1024

    @property
    def limits(self) -> Limits:
        return Limits(
            fuel=self.fuel,
            memory_bytes=self.memory_mb * 1024 * 1024,
            wall_seconds=self.seconds,
            output_bytes=self.output_kb * 1024,
        )

    @property
    def worker_count(self) -> int:
        # More workers than candidates per generation would only wait.
        return min(self.workers or os.cpu_count() or 1, self.population)

    @property
    def archive_path(self) -> Path:
        folder = self.run_dir or self.target.parent / ".evolver"
        return folder / "archive.sqlite"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            data[item.name] = value
        return data


#: Keys a configuration may set, with the types they accept and a fix for a bad value.
_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "target": (str, "a path to the Python module to evolve"),
    "suite": (str, "a path to the suite file with test_* functions"),
    "functions": (list, 'a list of function names, e.g. ["solve", "Board.place"]'),
    "budget": (int, "a whole number of evaluations, at least 1"),
    "population": (int, "a whole number of candidates per generation, at least 2"),
    "seed": (int, "a whole number"),
    "sandbox": (str, f"one of: {', '.join(BACKENDS)}"),
    "workers": (int, "a whole number of parallel evaluations, or 0 for one per core"),
    "max_examples": (int, "a whole number of hypothesis examples per test, at least 1"),
    "max_edits": (int, "a whole number of edits per genome, at least 1"),
    "crossover": (str, f"one of: {', '.join(CROSSOVERS)}"),
    "finalists": (int, "a whole number of variants to gate at the end, 0 or more"),
    "warm": (bool, "true or false"),
    "repair": (bool, "true or false"),
    "repair_weight": (int, "a whole number, at least 1, that a still failing test counts"),
    "selection": (str, f"one of: {', '.join(SELECTIONS)}"),
    "islands": (int, "a whole number of sub-populations, at least 2"),
    "migrants": (int, "a whole number of candidates per migration, at least 1"),
    "migration_interval": (int, "a whole number of generations, at least 1"),
    "adapt_operators": (bool, "true or false"),
    "time_budget": ((int, float), "a finite number of seconds, above 0"),
    "target_cost": ((int, float), "a finite cost (fuel, or seconds with docker), 0 or more"),
    "plateau": (int, "a whole number of generations, at least 1"),
    "run_dir": (str, "a folder for the archive"),
    "fuel": (int, "a whole number of WebAssembly instructions, at least 1000000"),
    "memory_mb": (int, "a whole number of MiB, at least 32"),
    "seconds": ((int, float), "a finite number of seconds, above 0"),
    "output_kb": (int, "a whole number of KiB, at least 1"),
}

_MINIMUM = {
    "budget": 1,
    "population": 2,
    "workers": 0,
    "max_examples": 1,
    "max_edits": 1,
    "finalists": 0,
    "repair_weight": 1,
    "islands": 2,
    "migrants": 1,
    "migration_interval": 1,
    "plateau": 1,
    "fuel": 1_000_000,
    "memory_mb": 32,
    "output_kb": 1,
}


#: Tables of a configuration file that other commands read for themselves;
#: `build_config` leaves them alone.
SECTIONS = ("canary", "gate", "operators")


def find_config_file(location: Path) -> Path | None:
    """Return the configuration file for a folder or file given on the command line."""
    if location.is_file():
        return location
    for name in (CONFIG_FILE, "pyproject.toml"):
        candidate = location / name
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """Read `evolver.toml` (top-level keys) or `[tool.evolver]` of `pyproject.toml`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read the configuration file {path}: {error}.") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"The configuration file {path} is not valid TOML: {error}. Fix the syntax."
        ) from error
    if path.name == "pyproject.toml":
        section = data.get("tool", {}).get("evolver")
        if section is None:
            raise ConfigError(
                f"{path} has no [tool.evolver] table. Add one with at least the keys "
                "target and suite, or write an evolver.toml."
            )
        data = section
    elif isinstance(data.get("tool"), dict) and "evolver" in data["tool"]:
        raise ConfigError(
            f"{path} has a [tool.evolver] table, but {CONFIG_FILE} takes its keys at "
            "the top level. Delete the [tool.evolver] line, so that target, suite "
            "and the other keys come before any table, or move the table into "
            "pyproject.toml."
        )
    return data


def describe_source(source: str) -> str:
    """Name where the keys of a configuration source are set, for messages."""
    if Path(source).name == "pyproject.toml":
        return f"[tool.evolver] in {source}"
    return source


def build_config(
    file_values: dict[str, Any], flag_values: dict[str, Any], base: Path, source: str
) -> RunConfig:
    """Merge file values and flags (flags win), validate every key and freeze."""
    flags = {key: value for key, value in flag_values.items() if value is not None}
    own = {key: value for key, value in file_values.items() if key not in SECTIONS}
    merged = {**own, **flags}
    for key, value in merged.items():
        if key in flags:
            _check_value(key, value, "flags on the command line")
        else:
            _check_value(key, value, describe_source(source))
    place = describe_source(source) if source.endswith(".toml") else CONFIG_FILE
    for key in ("target", "suite"):
        if key not in merged:
            raise ConfigError(
                f"No {key} is configured. Set {key} in {place} or pass --{key} PATH."
            )

    _check_islands(merged, flags, describe_source(source))
    values = _resolve_paths(merged, base)
    for key in ("target", "suite"):
        if values[key].is_dir():
            origin = f"--{key}" if key in flags else describe_source(source)
            raise ConfigError(
                f"The {key} {values[key]} (set by {origin}) is a folder, not a file. "
                f"Set {key} to the path of a Python file."
            )
    return RunConfig(**values)


def _resolve_paths(merged: dict[str, Any], base: Path) -> dict[str, Any]:
    values = dict(merged)
    for key in ("target", "suite", "run_dir"):
        if key in values:
            path = Path(values[key])
            values[key] = path if path.is_absolute() else (base / path).resolve()
    if "functions" in values:
        values["functions"] = tuple(values["functions"])
    for key in ("seconds", "time_budget", "target_cost"):
        if key in values:
            values[key] = float(values[key])
    return values


def _check_islands(merged: dict[str, Any], flags: dict[str, Any], source: str) -> None:
    """Reject islands that would have fewer than two members or send them all away."""
    if merged.get("selection") != "islands":
        return
    population = merged.get("population", RunConfig.population)
    islands = merged.get("islands", RunConfig.islands)
    migrants = merged.get("migrants", RunConfig.migrants)
    where = "flags on the command line" if {"population", "islands"} & set(flags) else source
    if population < 2 * islands:
        raise ConfigError(
            f"Invalid value {islands!r} for islands in {where}: {islands} islands of a "
            f"population of {population} leave fewer than 2 candidates per island. "
            f"Use at most {population // 2} islands, or a population of at least "
            f"{2 * islands}."
        )
    if migrants >= population // islands:
        raise ConfigError(
            f"Invalid value {migrants!r} for migrants in {where}: an island of "
            f"{population // islands} candidates would be replaced by its migrants. "
            f"Use fewer than {population // islands} migrants, or a larger population."
        )


def build_limits(flag_values: dict[str, Any]) -> Limits:
    """Validate the limit flags that are set and return the limits of one evaluation.

    `flag_values` maps fuel, memory_mb, seconds and output_kb to a value or None;
    None keeps the default of `RunConfig`.
    """
    values = {key: value for key, value in flag_values.items() if value is not None}
    for key, value in values.items():
        _check_value(key, value, "flags on the command line")
    if "seconds" in values:
        values["seconds"] = float(values["seconds"])
    return replace(RunConfig(target=Path(), suite=Path()), **values).limits


def _check_value(key: str, value: Any, source: str) -> None:
    if key not in _KEYS:
        known = ", ".join(sorted(_KEYS))
        raise ConfigError(
            f"Unknown configuration key {key!r} in {source}. Known keys: {known}."
        )
    expected, fix = _KEYS[key]
    wrong_type = not isinstance(value, expected) or (
        isinstance(value, bool) and expected is not bool
    )
    if wrong_type:
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key == "functions" and not all(isinstance(item, str) for item in value):
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key in _MINIMUM and value < _MINIMUM[key]:
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key in ("seconds", "time_budget") and not (0 < value < math.inf):
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key == "target_cost" and not (0 <= value < math.inf):
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key == "selection" and value not in SELECTIONS:
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key == "sandbox" and value not in BACKENDS:
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")
    if key == "seed" and not -(2**63) <= value < 2**63:
        raise ConfigError(
            f"Invalid value {value!r} for seed in {source}: use a whole number that "
            "fits in 64 bits (below 9223372036854775808 in size)."
        )
    if key == "workers" and value > MAX_WORKERS:
        raise ConfigError(
            f"Invalid value {value!r} for workers in {source}: use at most "
            f"{MAX_WORKERS}, or 0 for one per core ({os.cpu_count()} here)."
        )
    if key == "crossover" and value not in CROSSOVERS:
        raise ConfigError(f"Invalid value {value!r} for {key} in {source}: use {fix}.")


def with_overrides(config: RunConfig, **changes: Any) -> RunConfig:
    return replace(config, **changes)


def load_operator_weights(location: Path | None) -> dict[str, float] | None:
    """Read and check the `[operators]` table (operator name = weight) of a configuration.

    Returns None when there is no file or no table, so every operator weighs the same.
    """
    config_file = None if location is None else find_config_file(location)
    if config_file is None:
        return None
    table = read_config_file(config_file).get("operators")
    return check_operator_weights(table, describe_source(str(config_file)))


def check_operator_weights(table: Any, where: str) -> dict[str, float] | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(
            f"operators in {where} must be a table of operator name = weight, not "
            f"{table!r}. Write the weights under an [operators] line; `evolver operators` "
            "lists the names."
        )
    try:
        return validate_weights(table)
    except GenomeError as error:
        raise ConfigError(f"[operators] in {where}: {error}") from error
