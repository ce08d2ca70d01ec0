"""The `[canary]` table of a configuration: the gate's thresholds, validated once."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ._config import describe_source, find_config_file, read_config_file
from ._errors import ConfigError

__all__ = ["CHECKS", "CanaryConfig", "build_canary_config", "load_canary_config"]

#: The gate's checks, in the order they run and are reported.
CHECKS = ("suite", "differential", "cost", "limits")


@dataclass(frozen=True)
class CanaryConfig:
    """Thresholds, examples and repetitions of the canary gate."""

    #: Fresh hypothesis seeds. The suite runs once per seed on each side.
    seeds: int = 2
    #: The gate runs this many times the examples per test that the search used.
    examples_factor: int = 5
    #: Inputs drawn with `st.from_type` per changed function at most.
    drawn_inputs: int = 100
    #: Distinct inputs recorded from the suite's calls per changed function at most.
    recorded_inputs: int = 100
    #: Fraction by which the cost must fall: fuel exactly, seconds by the median.
    min_improvement: float = 0.01
    #: Interleaved runs of each side when the cost is wall-clock seconds.
    repetitions: int = 10
    #: Significance level of the one-sided Mann-Whitney U test on timings.
    alpha: float = 0.05
    #: Cliff's delta a speed-up must reach. 0.33 is where a medium effect starts
    #: by the thresholds of Romano et al. (2006) that R's effsize package applies.
    min_effect: float = 0.33
    #: The candidate may use at most this many times the original's peak memory.
    memory_factor: float = 1.5
    #: The candidate may print at most this many times the original's output.
    output_factor: float = 2.0
    #: Checks whose failure fails the verdict. A failure of any other check makes
    #: it marginal. Either way only a passing verdict promotes.
    critical: tuple[str, ...] = CHECKS
    #: Base of the gate's seeds. By default the run's seed is the base.
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["critical"] = list(self.critical)
        return data


#: Each key's accepted types, a check of its value, and the fix for a bad value.
_RULES: dict[str, tuple[tuple[type, ...], Any, str]] = {
    "seeds": ((int,), lambda v: v >= 1, "a whole number of seeds, at least 1"),
    "examples_factor": (
        (int,),
        lambda v: v >= 1,
        "a whole number, at least 1, that multiplies the search's max_examples",
    ),
    "drawn_inputs": ((int,), lambda v: v >= 0, "a whole number of inputs, 0 or more"),
    "recorded_inputs": (
        (int,),
        lambda v: v >= 0,
        "a whole number of inputs, 0 or more",
    ),
    "min_improvement": (
        (int, float),
        lambda v: 0 <= v < 1,
        "a fraction from 0 up to 1, such as 0.01 for 1 percent",
    ),
    "repetitions": (
        (int,),
        lambda v: v >= 5,
        "a whole number of runs per side, at least 5 for the Mann-Whitney U test",
    ),
    "alpha": (
        (int, float),
        lambda v: 0 < v < 1,
        "a number between 0 and 1, such as 0.05",
    ),
    "min_effect": (
        (int, float),
        lambda v: 0 <= v <= 1,
        "a number from 0 to 1, such as 0.33 for a medium effect",
    ),
    "memory_factor": (
        (int, float),
        lambda v: v >= 1,
        "a number of at least 1, such as 1.5",
    ),
    "output_factor": (
        (int, float),
        lambda v: v >= 1,
        "a number of at least 1, such as 2",
    ),
    "critical": (
        (list,),
        lambda v: all(item in CHECKS for item in v),
        f"a list of check names among {', '.join(CHECKS)}",
    ),
    "seed": ((int,), lambda v: True, "a whole number"),
}


def build_canary_config(values: dict[str, Any], source: str) -> CanaryConfig:
    """Validate the raw configuration's `canary` table and freeze it.

    `values` is what `read_config_file` returned for the file `source`, and a
    missing table gives the defaults. Every error names the key, the file and the fix.
    """
    table = values.get("canary", {})
    where = describe_source(source)
    if not isinstance(table, dict):
        raise ConfigError(
            f"canary in {where} must be a table, not {table!r}. Write the gate's keys "
            "under a [canary] line."
        )

    for key, value in table.items():
        _check(key, value, where)
    settings = dict(table)
    if "critical" in settings:
        settings["critical"] = tuple(dict.fromkeys(settings["critical"]))
    for key in (
        "min_improvement",
        "alpha",
        "min_effect",
        "memory_factor",
        "output_factor",
    ):
        if key in settings:
            settings[key] = float(settings[key])
    return CanaryConfig(**settings)


def _check(key: str, value: Any, where: str) -> None:
    if key not in _RULES:
        known = ", ".join(sorted(_RULES))
        raise ConfigError(
            f"Unknown key canary.{key} in {where}. Known keys of the [canary] table: "
            f"{known}."
        )
    types, accepts, fix = _RULES[key]
    if isinstance(value, bool) or not isinstance(value, types) or not accepts(value):
        raise ConfigError(
            f"Invalid value {value!r} for canary.{key} in {where}: use {fix}."
        )


def load_canary_config(location: Path | None) -> tuple[CanaryConfig, str]:
    """Read the `[canary]` table of the configuration file at or in `location`.

    Returns the configuration and the file it came from. Without a file (or
    without `location`) it returns the defaults and "defaults".
    """
    config_file = None if location is None else find_config_file(location)
    if config_file is None:
        return CanaryConfig(), "defaults"
    values = read_config_file(config_file)
    return build_canary_config(values, str(config_file)), str(config_file)
