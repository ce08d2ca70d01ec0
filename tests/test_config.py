"""Configuration: files and flags merge, and bad values are rejected with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolver import ConfigError, build_config
from evolver._config import build_limits, read_config_file
from sandbox import Limits


def test_flags_override_file(tmp_path: Path):
    config = build_config(
        {"target": "mod.py", "suite": "test_mod.py", "budget": 10},
        {"budget": 3, "seed": None},
        tmp_path,
        "evolver.toml",
    )
    assert config.budget == 3
    assert config.seed == 0
    assert config.target == tmp_path / "mod.py"
    assert config.archive_path == tmp_path / ".evolver" / "archive.sqlite"


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("budget", 0, "budget"),
        ("budget", "ten", "budget"),
        ("population", 1, "population"),
        ("sandbox", "vm", "one of: wasm"),
        ("functions", ["ok", 3], "functions"),
        ("seconds", -1, "seconds"),
        ("budget", True, "budget"),
    ],
)
def test_bad_value_names_key_and_fix(tmp_path, key, value, fragment):
    values = {"target": "m.py", "suite": "t.py", key: value}
    with pytest.raises(ConfigError, match=fragment) as raised:
        build_config(values, {}, tmp_path, "evolver.toml")
    assert repr(value) in str(raised.value)
    assert "use" in str(raised.value)


def test_unknown_key_lists_known_keys(tmp_path):
    with pytest.raises(ConfigError, match="Unknown configuration key 'budjet'") as raised:
        build_config({"target": "m", "suite": "t", "budjet": 5}, {}, tmp_path, "x")
    assert "budget" in str(raised.value)


def test_missing_target_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="No target is configured"):
        build_config({"suite": "t.py"}, {}, tmp_path, "x")


def test_pyproject_table_is_read(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.evolver]\ntarget = "m.py"\nsuite = "t.py"\n')
    assert read_config_file(path) == {"target": "m.py", "suite": "t.py"}


def test_pyproject_without_table_is_rejected(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"no \[tool.evolver\] table"):
        read_config_file(path)


def test_invalid_toml_is_rejected(tmp_path):
    path = tmp_path / "evolver.toml"
    path.write_text("target = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(path)


def test_missing_suite_names_pyproject_table(tmp_path):
    source = str(tmp_path / "pyproject.toml")
    with pytest.raises(ConfigError) as raised:
        build_config({"target": "m.py"}, {}, tmp_path, source)
    assert f"Set suite in [tool.evolver] in {source}" in str(raised.value)


def test_missing_suite_names_evolver_toml(tmp_path):
    source = str(tmp_path / "evolver.toml")
    with pytest.raises(ConfigError) as raised:
        build_config({"target": "m.py"}, {}, tmp_path, source)
    assert f"Set suite in {source} or pass --suite PATH" in str(raised.value)


def test_tool_table_in_evolver_toml_is_explained(tmp_path):
    path = tmp_path / "evolver.toml"
    path.write_text('[tool.evolver]\ntarget = "m.py"\nsuite = "t.py"\n')
    with pytest.raises(ConfigError, match="takes its keys at the top level"):
        read_config_file(path)


def test_bad_value_in_pyproject_names_table(tmp_path):
    source = str(tmp_path / "pyproject.toml")
    values = {"target": "m.py", "suite": "t.py", "budget": 0}
    with pytest.raises(ConfigError) as raised:
        build_config(values, {}, tmp_path, source)
    assert f"for budget in [tool.evolver] in {source}" in str(raised.value)


def test_bad_flag_is_blamed_on_flags(tmp_path):
    values = {"target": "m.py", "suite": "t.py", "budget": 10}
    with pytest.raises(ConfigError) as raised:
        build_config(values, {"budget": 0}, tmp_path, "evolver.toml")
    assert "flags on the command line" in str(raised.value)


@pytest.mark.parametrize("key", ["target", "suite"])
def test_folder_in_config_is_rejected(tmp_path, key):
    (tmp_path / "code").mkdir()
    values = {"target": "m.py", "suite": "t.py", key: "code"}
    source = str(tmp_path / "evolver.toml")
    with pytest.raises(ConfigError) as raised:
        build_config(values, {}, tmp_path, source)
    message = str(raised.value)
    assert f"The {key} {tmp_path / 'code'} (set by {source}) is a folder" in message


def test_limits_from_flags():
    limits = build_limits({"fuel": None, "memory_mb": 64, "seconds": 5, "output_kb": 2})
    assert limits.fuel == Limits.fuel
    assert limits.memory_bytes == 64 * 1024 * 1024
    assert limits.wall_seconds == 5.0
    assert isinstance(limits.wall_seconds, float)
    assert limits.output_bytes == 2048


def test_bad_limit_flag_is_rejected():
    with pytest.raises(ConfigError, match="Invalid value 0 for output_kb"):
        build_limits({"output_kb": 0})
