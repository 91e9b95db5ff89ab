"""The repository's own text files: nothing left over from a merge."""
import os
import subprocess

import pytest

from conftest import REPO

CONFLICT_MARKERS = ("<<<<<<< ", "=======\n", ">>>>>>> ")


def tracked_text_files():
    try:
        listing = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    suffixes = (".py", ".md", ".yaml", ".cfg", ".ini", ".sh", ".txt", ".toml", "Makefile")
    return [name for name in listing.splitlines() if name.endswith(suffixes)]


def conflict_lines(text: str):
    lines = text.splitlines(keepends=True)
    return [number for number, line in enumerate(lines, 1) if line.startswith(CONFLICT_MARKERS)]


def test_conflict_marker_detection():
    assert conflict_lines("a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> main\n") == [2, 4, 6]
    assert conflict_lines("title\n=======  \n<<<< not a marker\n") == []


def test_no_merge_conflict_markers():
    found = {}
    for name in tracked_text_files():
        path = os.path.join(REPO, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = conflict_lines(f.read())
            if lines:
                found[name] = lines
    assert not found, f"merge conflict markers left in (file: line numbers): {found}"
