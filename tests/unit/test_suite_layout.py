"""The suite collects as one: test modules outside packages are imported by their file name alone, so two with the
same name in different folders stop the whole run at collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_modules_outside_packages_have_names_of_their_own() -> None:
    loose = [
        path.name
        for path in TESTS.rglob("test_*.py")
        if not (path.parent / "__init__.py").exists() and "node_modules" not in path.parts
    ]
    repeated = [name for name, count in Counter(loose).items() if count > 1]
    assert not repeated, f"rename one of each: {repeated}"
