"""Validation of the selection, adaptation and stop-rule keys of a configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolver._config import build_config
from evolver._errors import ConfigError

BASE = {"target": "stats.py", "suite": "test_stats.py"}


def build(**values):
    return build_config({**BASE, **values}, {}, Path("/project"), "/project/evolver.toml")


def test_new_keys_have_defaults():
    config = build()
    assert config.selection == "nsga2"
    assert config.islands == 4
    assert config.migrants == 1
    assert config.migration_interval == 5
    assert config.adapt_operators is False
    assert config.time_budget is None
    assert config.target_cost is None
    assert config.plateau is None


def test_new_keys_are_read():
    config = build(
        selection="islands", islands=2, population=6, migrants=2, migration_interval=3,
        adapt_operators=True, time_budget=90, target_cost=5, plateau=4,
    )  # fmt: skip
    assert (config.selection, config.islands, config.migrants) == ("islands", 2, 2)
    assert config.migration_interval == 3
    assert config.adapt_operators is True
    assert config.time_budget == 90.0
    assert isinstance(config.time_budget, float)
    assert config.target_cost == 5.0
    assert config.plateau == 4


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"selection": "tournament"}, "Invalid value 'tournament' for selection in /project/evolver.toml: use one of: nsga2, lexicase, islands."),
        ({"islands": 1}, "Invalid value 1 for islands"),
        ({"plateau": 0}, "Invalid value 0 for plateau"),
        ({"time_budget": 0}, "Invalid value 0 for time_budget"),
        ({"time_budget": float("inf")}, "a finite number of seconds"),
        ({"target_cost": -1}, "Invalid value -1 for target_cost"),
        ({"adapt_operators": "yes"}, "Invalid value 'yes' for adapt_operators"),
        ({"migration_interval": 0}, "Invalid value 0 for migration_interval"),
    ],
)
def test_bad_values_name_key_and_fix(values, expected):
    with pytest.raises(ConfigError) as info:
        build(**values)
    assert expected in str(info.value)


def test_islands_need_two_members_each():
    with pytest.raises(ConfigError) as info:
        build(selection="islands", islands=4, population=6)
    message = str(info.value)
    assert "Invalid value 4 for islands" in message
    assert "Use at most 3 islands, or a population of at least 8." in message


def test_migrants_must_leave_natives():
    with pytest.raises(ConfigError) as info:
        build(selection="islands", islands=2, population=6, migrants=3)
    assert "Use fewer than 3 migrants" in str(info.value)


def test_island_keys_ignored_for_nsga2():
    config = build(islands=10, population=6)
    assert config.islands == 10
