"""The host console on the event page: feature and clear endpoints (JSON for fetch(), redirects
for plain form posts) and the console's markup for hosts and moderators."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import services, timed_metadata
from events.models import Highlight, LiveEvent, studio_url
from events.tests.factories import StreamSessionFactory
from liveshop import ratelimit

pytestmark = pytest.mark.django_db

Role = Membership.Role
CueState = Highlight.CueState
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def lineup(brand):
    return [
        ProductFactory(organization=brand, name="Rose lipstick", sku="ROSE-1"),
        ProductFactory(organization=brand, name="Night cream", sku="CREAM-2"),
        ProductFactory(organization=brand, name="Silk scarf", sku="SCARF-3"),
    ]


@pytest.fixture
def event(brand, host, lineup, video):
    """A scheduled event of ``brand`` (a channel on the fake backend) with a 3-product lineup."""
    return services.create_event(
        organization=brand,
        title="Spring drop",
        scheduled_start=timezone.now() + timedelta(days=1),
        by=host,
        products=lineup,
    )


@pytest.fixture
def live_event(event, video, monkeypatch):
    """``event`` on air: the fake channel is live and a stream session is open."""
    monkeypatch.setattr(
        timed_metadata,
        "get_rate_limiter",
        lambda: ratelimit.LocalRateLimiter(timed_metadata.CALLS_PER_SECOND),
    )
    video.go_live(event.channel_id, stream_id="st-console")
    StreamSessionFactory(
        event=event, stream_id="st-console", started_at=timezone.now() - timedelta(seconds=65)
    )
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.LIVE)
    event.refresh_from_db()
    return event


def url(name, event):
    return studio_url(f"events:{name}", event)


def feature(client, event, product_id, **headers):
    return client.post(url("feature", event), {"product_id": product_id}, **(headers or JSON))


# Feature and clear ---------------------------------------------------------------------------------


def test_feature_answers_the_highlight_and_writes_it(client, host, event, lineup, broadcasts):
    client.force_login(host)

    response = feature(client, event, lineup[1].pk)

    assert response.status_code == 200
    body = response.json()["highlight"]
    highlight = Highlight.objects.get()
    assert (highlight.event, highlight.product, highlight.featured_by) == (event, lineup[1], host)
    assert body["highlightId"] == highlight.pk
    assert body["eventId"] == event.pk
    assert body["product"]["id"] == lineup[1].pk
    assert body["product"]["name"] == "Night cream"
    assert (body["cueState"], body["cueError"], body["offsetMs"]) == ("not_live", "", None)


def test_feature_on_air_answers_a_pending_cue_that_is_then_sent(
    client, host, live_event, lineup, video, broadcasts, django_capture_on_commit_callbacks
):
    client.force_login(host)

    with django_capture_on_commit_callbacks(execute=True):
        response = feature(client, live_event, lineup[0].pk)

    body = response.json()["highlight"]
    assert body["cueState"] == CueState.PENDING  # the cue goes out after commit
    assert body["offsetMs"] >= 65_000
    assert Highlight.objects.get().cue_state == CueState.SENT
    assert len(video.channels[live_event.channel_id].metadata) == 1
    cue_frames = [m["payload"] for m in broadcasts if m["type"] == "cue.state"]
    assert cue_frames == [{"highlightId": body["highlightId"], "cueState": "sent", "cueError": ""}]


def test_a_double_click_features_once(client, host, event, lineup):
    client.force_login(host)

    first = feature(client, event, lineup[0].pk).json()["highlight"]
    second = feature(client, event, lineup[0].pk).json()["highlight"]

    assert first["highlightId"] == second["highlightId"]
    assert Highlight.objects.count() == 1


def test_clear_answers_a_highlight_without_a_product(
    client, host, event, lineup, broadcasts, django_capture_on_commit_callbacks
):
    client.force_login(host)
    with django_capture_on_commit_callbacks(execute=True):
        feature(client, event, lineup[0].pk)
        response = client.post(url("clear", event), **JSON)

    assert response.status_code == 200
    body = response.json()["highlight"]
    assert body["product"] is None
    assert body["cueState"] == "not_live"
    assert Highlight.objects.first().is_clear
    viewers = [m["type"] for m in broadcasts if "audience" not in m]
    consoles = [(m["type"], m["payload"]["cueState"]) for m in broadcasts if "audience" in m]
    assert viewers == ["product.featured", "product.cleared"]
    assert consoles == [("product.featured", "not_live"), ("product.cleared", "not_live")]


def test_x_requested_with_alone_gets_json(client, host, event, lineup):
    client.force_login(host)

    response = feature(client, event, lineup[0].pk, HTTP_X_REQUESTED_WITH="fetch")

    assert response["Content-Type"] == "application/json"
    assert response.json()["highlight"]["product"]["id"] == lineup[0].pk


# Refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product_id", "error"),
    [
        ("", "Choose a product to feature."),
        ("abc", "Product “abc” is not one of Acme's products."),
        ("99999999999999999999", "Product “99999999999999999999” is not one of Acme's products."),
    ],
)
def test_a_bad_product_id_is_a_400_with_the_reason(client, host, event, product_id, error):
    client.force_login(host)

    response = feature(client, event, product_id)

    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert not Highlight.objects.exists()


def test_a_product_outside_the_lineup_is_a_400_with_the_reason(client, host, brand, event):
    client.force_login(host)
    outside = ProductFactory(organization=brand, name="Winter boots")

    response = feature(client, event, outside.pk)

    assert response.status_code == 400
    assert response.json() == {"error": "Winter boots is not in this event's lineup."}
    assert not Highlight.objects.exists()


def test_another_brands_product_is_a_400_that_names_nothing_of_theirs(client, host, event):
    client.force_login(host)
    theirs = ProductFactory(
        organization=OrganizationFactory(name="Globex"), name="Globex secret", sku="GLX-9"
    )

    response = feature(client, event, theirs.pk)

    assert response.status_code == 400
    assert response.json() == {"error": f"Product “{theirs.pk}” is not one of Acme's products."}
    assert "GLX-9" not in response.text
    assert not Highlight.objects.exists()


@pytest.mark.parametrize("status", [LiveEvent.Status.ENDED, LiveEvent.Status.CANCELLED])
def test_featuring_in_an_event_that_is_over_is_a_400(client, host, event, lineup, status):
    client.force_login(host)
    LiveEvent.objects.filter(pk=event.pk).update(status=status)

    response = feature(client, event, lineup[0].pk)

    assert response.status_code == 400
    assert response.json() == {"error": f"This event is {status.label.lower()}."}
    assert not Highlight.objects.exists()


@pytest.mark.parametrize("name", ["feature", "clear"])
def test_moderators_get_a_403(client, brand, event, lineup, name):
    client.force_login(member(brand, role=Role.MODERATOR))

    as_json = client.post(url(name, event), {"product_id": lineup[0].pk}, **JSON)
    as_form = client.post(url(name, event), {"product_id": lineup[0].pk})

    assert as_json.status_code == 403
    assert as_json.json() == {"error": "Only the brand's hosts and owners can do that."}
    assert as_form.status_code == 403
    assert not Highlight.objects.exists()


@pytest.mark.parametrize("name", ["feature", "clear"])
def test_another_brands_host_gets_a_404(client, event, lineup, name):
    client.force_login(member(OrganizationFactory(name="Globex"), role=Role.OWNER))

    as_json = client.post(url(name, event), {"product_id": lineup[0].pk}, **JSON)
    as_form = client.post(url(name, event), {"product_id": lineup[0].pk})

    assert as_json.status_code == 404
    assert as_json.json() == {"error": "No such event."}
    assert as_form.status_code == 404
    assert not Highlight.objects.exists()


@pytest.mark.parametrize("name", ["feature", "clear"])
def test_get_is_not_allowed(client, host, event, name):
    client.force_login(host)

    assert client.get(url(name, event), **JSON).status_code == 405


@pytest.mark.parametrize("name", ["feature", "clear"])
def test_anonymous_posts_are_sent_to_log_in(client, event, lineup, name):
    response = client.post(url(name, event), {"product_id": lineup[0].pk})

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('login')}?next=")
    assert not Highlight.objects.exists()


def test_posts_need_the_csrf_token(host, event, lineup):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(host)
    page = client.get(url("detail", event))
    token = page.cookies["csrftoken"].value

    refused = feature(client, event, lineup[0].pk)
    accepted = feature(client, event, lineup[0].pk, HTTP_ACCEPT="application/json", HTTP_X_CSRFTOKEN=token)

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert Highlight.objects.count() == 1


# Without JavaScript --------------------------------------------------------------------------------


def test_a_plain_form_post_redirects_back_to_the_console_with_a_message(client, host, event, lineup):
    client.force_login(host)

    response = client.post(url("feature", event), {"product_id": lineup[2].pk}, follow=True)

    assert response.redirect_chain == [(f"{url('detail', event)}#console", 302)]
    assert "Featured “Silk scarf”." in response.text
    assert Highlight.objects.get().product == lineup[2]


def test_a_refused_plain_form_post_shows_the_reason(client, host, event):
    client.force_login(host)

    response = client.post(url("feature", event), {"product_id": "abc"}, follow=True)

    assert response.redirect_chain == [(f"{url('detail', event)}#console", 302)]
    assert "Product “abc” is not one of Acme&#x27;s products." in response.text


# The console page ----------------------------------------------------------------------------------


def test_hosts_get_feature_buttons_with_shortcuts_and_a_clear_button(client, host, event, lineup):
    client.force_login(host)

    page = client.get(url("detail", event)).text

    assert page.count('data-console="feature"') == 3
    for position, product in enumerate(lineup, 1):
        assert f'<input type="hidden" name="product_id" value="{product.pk}">' in page
        assert f'aria-keyshortcuts="{position}"' in page
        assert f'title="Press {position} to feature">{position}</kbd>' in page
    assert url("feature", event) in page
    assert url("clear", event) in page
    assert 'aria-keyshortcuts="0 Escape"' in page
    assert "js/console.js" in page


def test_shortcuts_stop_at_nine(client, host, brand, event, lineup):
    client.force_login(host)
    extra = [ProductFactory(organization=brand) for _ in range(8)]
    services.set_lineup(event=event, products=[*lineup, *extra], by=host)

    page = client.get(url("detail", event)).text

    assert page.count('data-console="feature"') == 11
    assert 'aria-keyshortcuts="9"' in page
    assert 'aria-keyshortcuts="10"' not in page


def test_moderators_see_the_console_read_only(client, brand, event, lineup):
    client.force_login(member(brand, role=Role.MODERATOR))

    response = client.get(url("detail", event))

    page = response.text
    assert response.status_code == 200
    assert "Rose lipstick" in page
    assert 'id="history-list"' in page
    assert "data-console=" not in page
    assert "aria-keyshortcuts" not in page
    assert url("feature", event) not in page
    assert url("clear", event) not in page
    assert "Only the brand's hosts and owners can feature products." in page
    assert response.context["console"]["canFeature"] is False


def test_another_brands_people_do_not_find_the_console(client, event):
    client.force_login(member(OrganizationFactory(), role=Role.OWNER))

    assert client.get(url("detail", event)).status_code == 404


def test_the_console_shows_the_history_and_the_product_on_screen(client, host, event, lineup):
    client.force_login(host)
    feature(client, event, lineup[0].pk)
    client.post(url("clear", event), **JSON)
    feature(client, event, lineup[1].pk)

    response = client.get(url("detail", event))

    page = response.text
    assert page.count('class="history-row') == 3
    assert page.count('<span class="cue cue-not_live">Not live (card only)</span>') == 3
    assert "Card cleared" in page
    assert f'class="product-card is-current" data-product-id="{lineup[1].pk}"' in page
    assert page.count("is-current") == 1
    config = response.context["console"]
    assert [row["product"] and row["product"]["id"] for row in config["history"]] == [
        lineup[1].pk,
        None,
        lineup[0].pk,
    ]
    assert config["socketPath"] == f"/ws/studio/events/{event.pk}/"
    assert config["canFeature"] is True


def test_the_console_offers_the_hls_preview_only_while_it_can_play(client, host, event):
    client.force_login(host)

    scheduled = client.get(url("detail", event)).context["console"]["preview"]
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.ENDED)
    ended = client.get(url("detail", event))

    assert scheduled == {"mode": "hls", "url": event.playback_url}
    assert ended.context["console"]["preview"] == {"mode": "none", "url": ""}
    assert "vendor/hls/hls.min.js" not in ended.text
    assert "data-console=" not in ended.text  # nothing to feature once it is over


def test_the_stream_key_stays_out_of_the_console_unless_revealed(client, host, event, video, lineup):
    client.force_login(host)
    feature(client, event, lineup[0].pk)
    key = video.channels[event.channel_id].stream_key

    page = client.get(url("detail", event))
    revealed = client.post(url("reveal-key", event))

    assert key not in page.text
    assert key not in json.dumps(page.context["console"])
    assert key in revealed.text
    assert 'data-console="feature"' in revealed.text
