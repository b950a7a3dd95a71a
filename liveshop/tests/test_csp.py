"""The Content-Security-Policy header (liveshop/csp.py) and the rule that makes it hold: no inline
script, event handler or style anywhere in our templates or admin HTML."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from events.tests.factories import LiveEventFactory
from liveshop import csp

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.fixture
def event():
    return LiveEventFactory()


@pytest.mark.parametrize("page", ["viewer", "login", "admin-login", "studio"])
def test_every_page_carries_the_policy(client, event, page, admin_user):
    if page == "studio":
        client.force_login(admin_user)
    url = {
        "viewer": reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug}),
        "login": reverse("login"),
        "admin-login": reverse("admin:login"),
        "studio": reverse("events:list"),
    }[page]

    response = client.get(url)

    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["worker-src"] == ["'self'"]  # hls.js and the IVS player start theirs from our files
    assert {"'self'", "blob:"} <= set(policy["media-src"])
    assert "ws://testserver" in policy["connect-src"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in response


def test_media_origins_follow_the_settings(client, event, settings):
    url = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})

    settings.VIDEO_BACKEND = "local"
    settings.MEDIA_SERVER_PUBLIC_URL = "http://127.0.0.1:18080"
    policy = directives(client.get(url))
    assert "http://127.0.0.1:18080" in policy["connect-src"]
    assert "http://127.0.0.1:18080" in policy["media-src"]
    assert "https://*.live-video.net" not in policy["connect-src"]

    settings.VIDEO_BACKEND = "ivs"
    settings.AWS_STORAGE_BUCKET_NAME = settings.AWS_RECORDINGS_BUCKET_NAME = "shop-media"
    settings.AWS_S3_REGION_NAME = "eu-west-1"
    settings.AWS_CLOUDFRONT_DOMAIN = "cdn.example.com"
    settings.LIVESHOP_CSP_EXTRA_ORIGINS = ["https://images.example.com"]
    policy = directives(client.get(url))
    assert "https://*.live-video.net" in policy["connect-src"]
    assert "http://127.0.0.1:18080" not in policy["connect-src"]
    for directive in ("img-src", "media-src", "connect-src"):
        assert {"https://cdn.example.com", "https://images.example.com"} <= set(policy[directive])
    # Uploads go straight to the bucket (presigned POST).
    assert "https://shop-media.s3.eu-west-1.amazonaws.com" in policy["connect-src"]


def test_workers_from_blobs_only_when_static_files_are_on_another_origin(client, event, settings):
    url = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})

    settings.STATIC_URL = "https://static.example.com/static/"
    policy = directives(client.get(url))
    # A worker script must be same-origin: the players then build theirs from a blob.
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert "https://static.example.com" in policy["media-src"]
    # Our scripts, styles and fonts come from there (LIVESHOP_STATIC_STORAGE=cdn), nothing inline.
    for directive in ("script-src", "style-src", "font-src"):
        assert policy[directive][:2] == ["'self'", "https://static.example.com"], directive
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]


def test_only_the_console_of_an_ivs_event_allows_the_broadcast_sdks_worker_and_ingest(client, settings):
    from accounts.models import Membership
    from accounts.tests.factories import member

    ivs, local = LiveEventFactory(backend="ivs"), LiveEventFactory(backend="local")
    host = member(ivs.organization, role=Membership.Role.HOST)
    Membership.objects.create(user=host, organization=local.organization, role=Membership.Role.HOST)
    client.force_login(host)

    response = client.get(ivs.get_absolute_url())
    assert b"data-ivs-sdk" in response.content  # the go-live panel, in IVS mode
    policy = directives(response)
    assert policy["worker-src"] == ["'self'", "blob:"]  # the SDK starts its worker from a blob
    assert {"https://*.live-video.net", "https://*.live-video.net:4443"} <= set(policy["connect-src"])
    # Not the console of a local event, nor the viewer page of the IVS one.
    for page in (
        local.get_absolute_url(),
        reverse("viewer:watch", kwargs={"brand": ivs.organization.slug, "slug": ivs.slug}),
    ):
        policy = directives(client.get(page))
        assert policy["worker-src"] == ["'self'"], page
        assert "https://*.live-video.net:4443" not in policy["connect-src"], page


def test_report_only_mode_and_report_uri(client, event, settings):
    settings.LIVESHOP_CSP_REPORT_ONLY = True
    settings.LIVESHOP_CSP_REPORT_URI = "https://csp.example.com/report"

    response = client.get(reverse("login"))

    assert "Content-Security-Policy" not in response
    report_only = response["Content-Security-Policy-Report-Only"]
    assert "script-src 'self'" in report_only
    assert report_only.endswith("report-uri https://csp.example.com/report")


def test_secure_requests_allow_only_wss_sockets(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get(reverse("login"), headers={"X-Forwarded-Proto": "https", "Host": "testserver"})

    policy = directives(response)
    assert "wss://testserver" in policy["connect-src"]
    assert "ws://testserver" not in policy["connect-src"]


def test_origin():
    assert csp.origin("http://127.0.0.1:8080/hls/x.m3u8") == "http://127.0.0.1:8080"
    assert csp.origin("/media/") == ""
    assert csp.origin("") == ""


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"javascript:", re.I)


def our_html() -> list[Path]:
    # E-mails are read in mail clients, never served under the policy (and they need inline styles).
    emails = ROOT / "templates" / "emails"
    templates = sorted(path for path in (ROOT / "templates").rglob("*.html") if emails not in path.parents)
    apps = ("accounts", "catalog", "events", "recordings", "demo", "liveshop")
    python = [path for app in apps for path in (ROOT / app).rglob("*.py") if "tests" not in path.parts]
    return templates + [path for path in python if path.name != "csp.py"]


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("inline script", INLINE_SCRIPT),
        ("event handler attribute", EVENT_HANDLER),
        ("inline style", INLINE_STYLE),
        ("javascript: URL", JAVASCRIPT_URL),
    ],
)
def test_no_inline_script_or_style_in_our_html(name, pattern):
    """The policy refuses them, so a page using one silently breaks: refuse them here first."""
    found = []
    for path in our_html():
        text = path.read_text()
        if path.suffix == ".py" and "<" not in text:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line) and (path.suffix == ".html" or "<" in line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, f"{name} found:\n" + "\n".join(found)
