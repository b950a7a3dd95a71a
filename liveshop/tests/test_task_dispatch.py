"""liveshop.tasks: services queue tasks by name, so only Celery (and tests) import task modules."""

import ast
from pathlib import Path

import pytest
from celery.exceptions import NotRegistered
from django.db import transaction

from liveshop import tasks

ROOT = Path(__file__).resolve().parents[2]
TASK_MODULES = {"events.tasks", "recordings.tasks"}


@pytest.mark.django_db
def test_a_task_queued_on_commit_is_sent_after_the_commit(monkeypatch, django_capture_on_commit_callbacks):
    from recordings.tasks import transcode_upload_task

    calls = []
    monkeypatch.setattr(transcode_upload_task, "delay", lambda *args: calls.append(args))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.enqueue_on_commit("recordings.tasks.transcode_upload_task", 42)
        assert calls == []

    assert len(callbacks) == 1
    assert calls == [(42,)]


@pytest.mark.django_db
def test_a_misspelt_task_name_fails_in_the_callers_transaction():
    with pytest.raises(NotRegistered), transaction.atomic():
        tasks.enqueue_on_commit("recordings.tasks.transcode_uplod_task", 42)


def test_eager_settings_run_a_queued_task_here(monkeypatch, settings):
    from events import timed_metadata

    sent = []
    monkeypatch.setattr(
        timed_metadata, "send_highlight_cue", lambda highlight_id: sent.append(highlight_id) or "sent"
    )

    tasks.enqueue(
        "events.tasks.send_highlight_cue_task", 7, countdown=0.5
    )  # test settings: CELERY_TASK_ALWAYS_EAGER

    assert sent == [7]


def imports_of(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
    return modules


def test_no_application_module_imports_a_task_module():
    """Tasks call services, never the reverse: the import of a task module would close a loop."""
    sources = [
        path
        for app in ("events", "recordings", "liveshop", "accounts", "catalog")
        for path in (ROOT / app).rglob("*.py")
        if "tests" not in path.relative_to(ROOT).parts and path.name != "tasks.py"
    ]
    assert len(sources) > 50

    offenders = {str(p.relative_to(ROOT)) for p in sources if imports_of(p) & TASK_MODULES}

    assert offenders == set()
