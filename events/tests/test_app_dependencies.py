"""The dependency between events and recordings runs one way: recordings imports events, never
the reverse. events reaches recordings only through events.extensions, whose slots
RecordingsConfig.ready() fills. events' own tests import no recordings either: a test of both
apps together lives in recordings/tests (test_stream_order, test_event_origin)."""

import ast
from pathlib import Path

from events import extensions

EVENTS = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (at any depth: a function's lazy import counts too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def recordings_imports() -> dict[str, list[str]]:
    """Each events module (its tests too) that imports recordings, with its import lines."""
    sources = list(EVENTS.rglob("*.py"))
    assert len(sources) > 20  # the walk found the app
    found = {}
    for path in sources:
        lines = [
            f"{line}: {module}"
            for line, module in imported_modules(path)
            if module == "recordings" or module.startswith("recordings.")
        ]
        if lines:
            found[str(path.relative_to(EVENTS.parent))] = lines
    return found


def test_no_events_source_imports_recordings():
    assert recordings_imports() == {}, "events must not import recordings: use events.extensions"


def test_the_walk_sees_lazy_imports(tmp_path):
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from recordings.tasks import x\n    import recordings\n")

    assert imported_modules(source) == [(2, "recordings.tasks"), (3, "recordings")]


def test_an_unfilled_slot_answers_its_default_and_a_filled_one_its_function():
    slot = extensions.Slot("example", lambda event: "")

    assert slot(object()) == ""
    slot.fill("os.path.basename")
    assert slot("/a/b") == "b"
