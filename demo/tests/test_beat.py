"""make demo runs Celery beat's periodic tasks: with Redis, Procfile.demo's beat process (the real
``celery beat``); without Redis the web server runs them in a thread (demo.beat), where the test
payment provider's memory is, so a pending refund settles by itself there too."""

import os
import subprocess
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from commerce import refunds
from commerce.models import Order, OrderRefund
from commerce.payments.test import PENDING_REFUND_CARD
from commerce.tests.conftest import make_variant, payment_backend  # noqa: F401 (fixtures)
from commerce.tests.orders import pay, start_order
from demo import beat
from liveshop.celery import app

ROOT = Path(__file__).resolve().parents[2]


def processes(procfile: str) -> dict[str, str]:
    lines = (ROOT / procfile).read_text().splitlines()
    return {
        name: command.strip()
        for name, _, command in (line.partition(":") for line in lines if line[:1].isalpha())
    }


@pytest.mark.django_db(transaction=True)
def test_without_redis_the_web_server_runs_beats_tasks_and_a_pending_refund_settles(
    payment_backend,  # noqa: F811
    make_variant,  # noqa: F811
    host,
):
    variant = make_variant(stock=3, price="20.00")
    order, payment = start_order(variant)
    pay(order, payment, card=PENDING_REFUND_CARD)
    order.refresh_from_db()
    refunds.refund_order_with_provider(order=order, by=host)
    row = OrderRefund.objects.get(order=order)
    assert row.status == OrderRefund.Status.PENDING
    OrderRefund.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    # Beat's own entry (task and arguments), its interval shortened for the test.
    entry = settings.CELERY_BEAT_SCHEDULE["commerce-settle-test-refunds"]
    stop = threading.Event()
    thread = beat.start_beat_thread(stop=stop, schedule={"settle": {**entry, "schedule": 0.2}})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            order.refresh_from_db()
            if order.status == Order.Status.REFUNDED:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert not thread.is_alive()
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("20.00"))
    variant.refresh_from_db()
    assert variant.stock == 3


def test_a_failing_task_runs_again_at_its_next_turn(monkeypatch):
    calls = []

    class Flaky:
        def apply(self, throw):
            calls.append(time.monotonic())
            raise RuntimeError("the database is away")

    monkeypatch.setitem(app.tasks, "demo.tests.flaky", Flaky())
    stop = threading.Event()
    thread = beat.start_beat_thread(
        stop=stop, schedule={"flaky": {"task": "demo.tests.flaky", "schedule": 0.05}}
    )
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)

    assert len(calls) >= 3 and not thread.is_alive()


def test_with_redis_the_demos_beat_process_runs_celery_beat(tmp_path):
    beat_process = processes("Procfile.demo")["beat"]
    env = {
        **os.environ,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "schedule"),
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.base",  # make demo's
    }
    process = subprocess.Popen(
        ["sh", "-c", beat_process],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: [lines.append(line) for line in process.stdout], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("beat: Starting" in line for line in lines):
            time.sleep(0.1)
        assert any("beat: Starting" in line for line in lines), "".join(lines)
    finally:
        process.terminate()
        process.wait(timeout=30)
