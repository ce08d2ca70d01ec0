"""Patches from `unified_diff`, applied with real git."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from genomes import GenomeError, Target, unified_diff

ORIGINAL = "def area(width, height):\n    # Rectangle.\n    return width * height\n"


def git_apply(folder: Path, name: str, original: str, patch: str) -> str:
    """Write `original` to `folder/name`, apply `patch` with git and read the file."""
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(original.encode("utf-8"))
    (folder / "change.patch").write_bytes(patch.encode("utf-8"))
    result = subprocess.run(
        ["git", "apply", "change.patch"], cwd=folder, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return path.read_bytes().decode("utf-8")


def test_patch_headers():
    patch = unified_diff(ORIGINAL, ORIGINAL.replace("*", "+"), "src/shapes.py")
    lines = patch.split("\n")
    assert lines[:3] == [
        "diff --git a/src/shapes.py b/src/shapes.py",
        "--- a/src/shapes.py",
        "+++ b/src/shapes.py",
    ]
    assert lines[3] == "@@ -1,3 +1,3 @@"
    assert "-    return width * height" in lines
    assert "+    return width + height" in lines


def test_equal_texts_give_empty_patch():
    assert unified_diff(ORIGINAL, ORIGINAL, "shapes.py") == ""


@pytest.mark.parametrize(
    ("original", "variant"),
    [
        (ORIGINAL, ORIGINAL.replace("width * height", "height * width")),
        (ORIGINAL, ORIGINAL.rstrip("\n")),
        (ORIGINAL.rstrip("\n"), ORIGINAL),
        (ORIGINAL.rstrip("\n"), ORIGINAL.rstrip("\n") + " + 1"),
        (
            ORIGINAL.replace("\n", "\r\n"),
            ORIGINAL.replace("\n", "\r\n").replace("*", "-"),
        ),
        (
            "x = '\f'\n" + ORIGINAL,
            "x = '\f'\n" + ORIGINAL.replace("# Rectangle.\n", ""),
        ),
    ],
    ids=[
        "change",
        "drop-final-newline",
        "add-final-newline",
        "no-final-newline",
        "crlf",
        "form-feed",
    ],
)
def test_git_applies_patch(tmp_path, original, variant):
    patch = unified_diff(original, variant, "shapes.py")
    assert git_apply(tmp_path, "shapes.py", original, patch) == variant


@pytest.mark.parametrize("name", ["my shapes.py", "formes/été.py", 'odd"name.py'])
def test_git_applies_awkward_paths(tmp_path, name):
    variant = ORIGINAL.replace("height", "depth")
    patch = unified_diff(ORIGINAL, variant, name)
    assert git_apply(tmp_path, name, ORIGINAL, patch) == variant


def test_git_applies_variant_patch(tmp_path):
    target = Target.from_source(ORIGINAL, path="shapes.py")
    rng = random.Random(2)
    for index in range(8):
        variant = target.apply([target.random_edit(rng)]).source
        folder = tmp_path / str(index)
        folder.mkdir()
        patch = unified_diff(target.source, variant, "shapes.py")
        assert git_apply(folder, "shapes.py", target.source, patch) == variant


@pytest.mark.parametrize("path", ["", "/etc/shapes.py", "../shapes.py", "a\\b.py"])
def test_patch_path_must_be_relative(path):
    with pytest.raises(GenomeError, match="must be a relative path"):
        unified_diff("a\n", "b\n", path)
