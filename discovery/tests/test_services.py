"""A frame's detections become suggestions on the host consoles' topic (never the viewers'),
with the frame's thumbnail and box; automatic mode features through feature_product and never
overrides a host's feature of the last 30 s."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from discovery import services
from discovery.detectors import DetectorModelError
from discovery.detectors.base import Detection
from discovery.models import AutoFeature
from events import services as event_services
from events.models import Highlight, LiveEvent

pytestmark = pytest.mark.django_db

FRAME = np.zeros((360, 640, 3), np.uint8)


@pytest.fixture
def live(event):
    event.status = LiveEvent.Status.LIVE
    event.save(update_fields=["status"])
    return event


@pytest.fixture
def lipstick(live):
    return live.products.get()


def seen(product, score=0.9, in_lineup=True):
    return Detection(product.pk, score, (0.2, 0.1, 0.3, 0.6), in_lineup)


def run(event, tracker, seconds, at=None):
    at = at or timezone.now()
    return [
        services.analyse_frame(
            event=event, frame=FRAME, tracker=tracker, now=float(s), at=at + timedelta(seconds=s)
        )
        for s in range(seconds)
    ]


def test_a_product_seen_twice_in_a_row_is_suggested_to_the_consoles_only(
    live, lipstick, fake_detector, broadcasts
):
    fake_detector.answers = [[seen(lipstick)]]
    run(live, services.new_tracker(), 3)
    suggestions = [m for m in broadcasts if m["type"] == "discovery.suggestion"]
    assert len(suggestions) == 1
    [message] = suggestions
    assert message["audience"] == "studio" and message["event_id"] == live.pk
    payload = message["payload"]
    assert payload["product"]["name"] == "Rose lipstick" and payload["inLineup"] is True
    assert payload["box"] == [0.2, 0.1, 0.3, 0.6] and payload["score"] == 0.9
    assert payload["thumbnail"].startswith("data:image/jpeg;base64,")
    assert all(m.get("audience") == "studio" for m in broadcasts if m["type"].startswith("discovery"))
    assert fake_detector.calls[0]["candidates"][0].product_id == lipstick.pk  # the lineup first
    assert not Highlight.objects.filter(event=live).exists()  # suggestions only: nothing featured


def test_detector_errors_reach_the_caller(live, fake_detector):
    fake_detector.answers = [DetectorModelError("boom")]
    with pytest.raises(DetectorModelError):
        run(live, services.new_tracker(), 1)


def test_automatic_mode_features_after_the_dwell(
    live, lipstick, host, fake_detector, broadcasts, settings, django_capture_on_commit_callbacks
):
    settings.DISCOVERY_AUTO_DWELL = 3
    services.update_discovery_settings(event=live, by=host, enabled=True, auto_feature=True)
    fake_detector.answers = [[seen(lipstick)]]
    run(live, services.new_tracker(), 3)
    assert not Highlight.objects.filter(event=live).exists()
    with django_capture_on_commit_callbacks(execute=True):
        run(live, services.new_tracker(), 4)
    highlight = Highlight.objects.get(event=live)
    assert (highlight.product_id, highlight.featured_by) == (lipstick.pk, host)
    assert AutoFeature.objects.filter(highlight=highlight).exists()
    assert any(m["type"] == "product.featured" and m.get("audience") != "studio" for m in broadcasts)


def test_automatic_mode_never_overrides_a_manual_feature_of_the_last_30_seconds(
    live, lipstick, host, fake_detector, brand
):
    from catalog.tests.factories import ProductFactory

    mug = ProductFactory(organization=brand, name="Blue mug")
    event_services.set_lineup(event=live, products=[lipstick, mug], by=host)
    services.update_discovery_settings(event=live, by=host, enabled=True, auto_feature=True)
    manual = event_services.feature_product(event=live, product=mug, by=host)
    now = timezone.now()
    detection = seen(lipstick)
    assert services.auto_feature(event=live, detection=detection, at=now + timedelta(seconds=29)) is None
    auto = services.auto_feature(
        event=live, detection=detection, at=manual.created_at + timedelta(seconds=31)
    )
    assert auto is not None and auto.product_id == lipstick.pk
    # Its own features do not hold it back for 30 s, only AUTO_MIN_GAP_SECONDS.
    later = auto.created_at + timedelta(seconds=services.AUTO_MIN_GAP_SECONDS + 1)
    assert services.auto_feature(event=live, detection=seen(mug), at=later).product_id == mug.pk


def test_automatic_mode_needs_the_switch_and_the_lineup(live, lipstick, host, fake_detector):
    at = timezone.now() + timedelta(seconds=60)
    assert services.auto_feature(event=live, detection=seen(lipstick), at=at) is None  # off by default
    services.update_discovery_settings(event=live, by=host, enabled=True, auto_feature=True)
    assert services.auto_feature(event=live, detection=seen(lipstick, in_lineup=False), at=at) is None
    services.update_discovery_settings(event=live, by=host, enabled=False, auto_feature=True)
    assert services.auto_feature(event=live, detection=seen(lipstick), at=at) is None


def test_a_host_who_lost_the_role_features_nothing(live, lipstick, host, fake_detector):
    services.update_discovery_settings(event=live, by=host, enabled=True, auto_feature=True)
    host.memberships.all().delete()
    host.__dict__.pop("_liveshop_roles", None)
    at = timezone.now() + timedelta(seconds=60)
    assert services.auto_feature(event=live, detection=seen(lipstick), at=at) is None
    assert not Highlight.objects.filter(event=live).exists()


def test_settings_view_is_for_the_brands_hosts(client, live, host, moderator, other_brand):
    from accounts.models import Membership
    from accounts.tests.factories import member

    url = f"/studio/events/{live.pk}/discovery/"
    headers = {"Accept": "application/json"}
    client.force_login(moderator)
    assert client.post(url, {"enabled": "1"}, headers=headers).status_code == 403
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.post(url, {"enabled": "1"}, headers=headers).status_code == 404
    client.force_login(host)
    answer = client.post(url, {"enabled": "1", "auto_feature": "1"}, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"enabled": True, "autoFeature": True}
    assert client.post(url, {"auto_feature": "1"}, headers=headers).json() == {
        "enabled": False,
        "autoFeature": False,
    }


def test_the_console_shows_the_panel_to_hosts(client, live, host):
    client.force_login(host)
    page = client.get(live.get_absolute_url()).content.decode()
    assert 'id="discovery"' in page and "js/console/discovery.js" in page
    assert f"/studio/events/{live.pk}/discovery/" in page


def test_the_panel_tells_a_live_console_when_to_say_nothing_samples_the_show(client, live, host, settings):
    """The console's panel starts a watch when the show is live and its detector on; with no frame
    for LIVESHOP_DISCOVERY_STALL_SECONDS it shows the message that names what is missing (the
    browser side: test_console_browser.py)."""
    import html

    client.force_login(host)
    settings.DISCOVERY_STALL_SECONDS = 12
    settings.CELERY_TASK_ALWAYS_EAGER = True
    page = html.unescape(client.get(live.get_absolute_url()).content.decode())
    assert 'data-live="1"' in page and 'data-enabled="1"' in page and 'data-stall-seconds="12"' in page
    assert "no frame for 12 s (this server has no Celery worker: run manage.py discovery_sampler)" in page
    settings.CELERY_TASK_ALWAYS_EAGER = False
    page = html.unescape(client.get(live.get_absolute_url()).content.decode())
    assert "is the 'discovery' worker (docker/start-discovery-worker) running?" in page
