"""Wiring fixtures shared by every app's tests."""

import pytest


@pytest.fixture(autouse=True)
def _media_in_memory(settings):
    """Each test gets empty in-memory storages."""
    from django.core.files.storage import default_storage, storages
    from django.utils.functional import empty

    storages._storages = {}
    default_storage._wrapped = empty
    yield
    storages._storages = {}
    default_storage._wrapped = empty


@pytest.fixture(autouse=True)
def _fresh_snapshot_cache():
    """Each test starts with no shared event snapshot (events.snapshot_cache) and no shared
    viewer page (events.page_cache: its entries are checked against the snapshot generations)."""
    from events import page_cache, snapshot_cache, timed_metadata
    from events.views.discover import forget_list_pages

    snapshot_cache.clear()
    page_cache.clear()
    forget_list_pages()
    yield
    snapshot_cache.clear()
    page_cache.clear()
    forget_list_pages()
    timed_metadata._stopping.clear()  # a streaming command's stop in one test ends no retry in the next


@pytest.fixture(autouse=True, scope="session")
def _patient_browser_assertions():
    """Playwright's expect() waits 5 s by default, whatever a page's set_default_timeout says (that
    one covers actions and locators only): on a busy 2-core machine a shop confirmation or a card
    can take longer. Browser assertions get 20 s; a test may still pass its own timeout."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        yield
        return
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(autouse=True)
def _default_language_after():
    """A German request leaves German active in the test's thread (LocaleMiddleware activates,
    nothing deactivates): a later test calling services directly would read German."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture
def video(settings):
    """A fresh in-memory video backend (it records every call in ``video.calls``)."""
    from liveshop.video import get_video_backend

    settings.VIDEO_BACKEND = "fake"
    get_video_backend.cache_clear()
    yield get_video_backend()
    get_video_backend.cache_clear()


@pytest.fixture
def broadcasts(monkeypatch):
    """What events.realtime publishes, each message JSON round-tripped; messages for host
    consoles carry ``"audience": "studio"``."""
    import json

    from events import realtime

    sent = []

    def capture(audience):
        def _capture(event_id, message_type, payload):
            message = {"event_id": event_id, "type": message_type, "payload": json.loads(json.dumps(payload))}
            if audience == "studio":
                message["audience"] = "studio"
            sent.append(message)

        return _capture

    # The package's names (callers using realtime.broadcast_to_*) and the module's own (its
    # *_on_commit functions call them there).
    for module in (realtime, realtime.publishing):
        monkeypatch.setattr(module, "broadcast_to_event", capture("viewers"))
        monkeypatch.setattr(module, "broadcast_to_studio", capture("studio"))
    return sent


# The people and things most tests start from. A test module may define its own fixture of the
# same name when it needs something else (pytest takes the nearest).


@pytest.fixture
def brand():
    """The brand most tests act for: Acme (slug ``acme``)."""
    from accounts.tests.factories import OrganizationFactory

    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def other_brand():
    """A second brand, whose people must not reach Acme's things (and the reverse)."""
    from accounts.tests.factories import OrganizationFactory

    return OrganizationFactory(name="Globex", slug="globex")


@pytest.fixture
def host(brand):
    """A host of ``brand``: runs shows, features products."""
    from accounts.models import Membership
    from accounts.tests.factories import member

    return member(brand, role=Membership.Role.HOST)


@pytest.fixture
def moderator(brand):
    """A moderator of ``brand``: may watch the brand's private shows, may not run them."""
    from accounts.models import Membership
    from accounts.tests.factories import member

    return member(brand, role=Membership.Role.MODERATOR)


@pytest.fixture
def owner(brand):
    """An owner of ``brand``: everything a host may do, and the brand's people too."""
    from accounts.models import Membership
    from accounts.tests.factories import member

    return member(brand, role=Membership.Role.OWNER)


@pytest.fixture
def host_client(client, host):
    """The test client, logged in as ``host``."""
    client.force_login(host)
    return client


@pytest.fixture
def event(brand, host, video):
    """A scheduled event of ``brand`` for tomorrow, its channel on the fake video backend, with one
    product (Rose lipstick) in its lineup; made through the service, as the studio makes one."""
    from datetime import timedelta

    from django.utils import timezone

    from catalog.tests.factories import ProductFactory
    from events import services

    return services.create_event(
        organization=brand,
        title="Spring drop",
        scheduled_start=timezone.now() + timedelta(days=1),
        by=host,
        products=[ProductFactory(organization=brand, name="Rose lipstick")],
    )


@pytest.fixture(scope="session")
def shared_media_server(tmp_path_factory):
    """One local media server (``manage.py media_server``: nginx-rtmp) for the whole run, started
    by the first test that needs it (skipped where nginx, nginx-rtmp or ffmpeg is missing). Its
    callbacks reach nobody until a test points them at its Django server with
    ``shared_media_server.calling_back(url)``, as ``media_server`` and the browser tests'
    stacks do. Tests stay apart by name: every channel id and stream key is new, nginx's client
    ids only grow. A test that stops or kills nginx starts its own (tests/test_media_restart.py)."""
    from django.conf import settings

    from tests import media

    reason = media.missing_tools()
    if reason:
        pytest.skip(reason)
    server = media.start_media_server(
        tmp_path_factory.mktemp("media-server"),
        env={"DJANGO_SECRET_KEY": settings.SECRET_KEY},  # the callback secret derives from it
    )
    yield server
    server.stop()


@pytest.fixture
def media_server(shared_media_server, live_server):
    """The shared media server, its callbacks reaching this session's live server (pytest-django,
    in this process) while the test runs."""
    with shared_media_server.calling_back(live_server.url):
        yield shared_media_server
