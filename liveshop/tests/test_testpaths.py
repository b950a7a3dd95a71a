"""`make test` runs every app's tests: pytest's testpaths (pyproject.toml) names each folder of the
repository that holds tests (commerce's and chat's went untested for a session when it did not)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_with_tests_is_in_testpaths():
    testpaths = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    )
    folders = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")]
    skipped = {"node_modules", "bench", "var", "test-artifacts"}
    with_tests = {
        folder.name for folder in folders if folder.name not in skipped and any(folder.rglob("test_*.py"))
    }
    assert with_tests <= testpaths, sorted(with_tests - testpaths)
