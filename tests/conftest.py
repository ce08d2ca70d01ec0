"""Shared fixtures: one wasm sandbox per test session, example paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def wasm_sandbox():
    from sandbox import create_sandbox

    sandbox = create_sandbox("wasm")
    yield sandbox
    sandbox.close()


@pytest.fixture
def stats_example(tmp_path: Path) -> Path:
    """A copy of the bundled stats example in a temporary folder."""
    folder = tmp_path / "stats"
    folder.mkdir()
    for path in (EXAMPLES / "stats").iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    return folder
