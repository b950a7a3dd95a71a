"""CloudFront signed cookies: a custom policy over the recording's prefix, signed RSA-SHA1 with
the configured key (checked with a freshly generated key pair and its public half)."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.http import HttpResponse

from recordings import cdn
from recordings.models import Recording

KEY_ID = "K2JCJMDEHXQW5F"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def pem(rsa_key) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def cloudfront_b64decode(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


def verify(rsa_key, cookies: dict[str, str]) -> dict:
    """Check the signature with the public key; return the decoded policy."""
    policy = cloudfront_b64decode(cookies[cdn.POLICY_COOKIE])
    signature = cloudfront_b64decode(cookies[cdn.SIGNATURE_COOKIE])
    rsa_key.public_key().verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return json.loads(policy)


def test_signed_cookies_carry_a_custom_policy_signed_with_rsa_sha1(rsa_key, pem):
    expires = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
    resource = "https://d111.cloudfront.net/recordings/replays/7/12/*"

    signed = cdn.signed_cookies(resource=resource, expires=expires, key_id=KEY_ID, private_key=pem)

    assert set(signed.values) == {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"}
    assert signed.values["CloudFront-Key-Pair-Id"] == KEY_ID
    for value in signed.values.values():  # cookie-safe: no +, = or /
        assert not set("+=/") & set(value)
    assert verify(rsa_key, signed.values) == {
        "Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": 1935662400}}}]
    }


def test_a_tampered_policy_fails_verification(rsa_key, pem):
    signed = cdn.signed_cookies(
        resource="https://cdn.example.com/a/*", expires=datetime.now(UTC), key_id=KEY_ID, private_key=pem
    )
    forged = json.dumps({"Statement": [{"Resource": "https://cdn.example.com/*"}]}).encode()
    values = {**signed.values, cdn.POLICY_COOKIE: cdn.cloudfront_b64(forged)}
    with pytest.raises(InvalidSignature):
        verify(rsa_key, values)


def test_a_pem_with_escaped_newlines_is_accepted(rsa_key, pem):
    one_line = pem.strip().replace("\n", "\\n")
    signed = cdn.signed_cookies(
        resource="https://cdn.example.com/x/*", expires=datetime.now(UTC), key_id=KEY_ID, private_key=one_line
    )
    assert verify(rsa_key, signed.values)["Statement"][0]["Resource"] == "https://cdn.example.com/x/*"


@pytest.fixture
def cloudfront(settings, pem):
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"base_url": "https://d111.cloudfront.net/recordings/"},
        },
    }
    settings.AWS_CLOUDFRONT_KEY_ID = KEY_ID
    settings.AWS_CLOUDFRONT_KEY = pem
    settings.AWS_CLOUDFRONT_COOKIE_DOMAIN = ".example.com"
    settings.AWS_CLOUDFRONT_COOKIE_TTL = 3600


def test_the_replay_response_gets_cookies_for_the_whole_recording_prefix(cloudfront, rsa_key):
    recording = Recording(cdn_prefix="replays/7/12", master_path="replays/7/12/media/hls/master.m3u8")
    before = datetime.now(UTC)

    response = cdn.sign_replay_response(HttpResponse(), recording)

    names = (cdn.POLICY_COOKIE, cdn.SIGNATURE_COOKIE, cdn.KEY_PAIR_COOKIE)
    values = {name: response.cookies[name].value for name in names}
    statement = verify(rsa_key, values)["Statement"][0]
    # The wildcard covers the master, the rendition playlists and every segment.
    assert statement["Resource"] == "https://d111.cloudfront.net/recordings/replays/7/12/*"
    expires = statement["Condition"]["DateLessThan"]["AWS:EpochTime"]
    expected = before + timedelta(hours=1)
    assert (
        expected - timedelta(seconds=1)
        <= datetime.fromtimestamp(expires, UTC)
        <= expected + timedelta(seconds=5)
    )
    for name in values:
        morsel = response.cookies[name]
        assert morsel["secure"] and morsel["httponly"]
        assert morsel["domain"] == ".example.com"
        assert morsel["max-age"] == 3600


def test_without_a_cdn_prefix_the_master_playlists_folder_is_covered(cloudfront, rsa_key):
    recording = Recording(master_path="uploads/3/hls/master.m3u8")
    response = cdn.sign_replay_response(HttpResponse(), recording)
    policy = verify(rsa_key, {name: response.cookies[name].value for name in response.cookies})
    assert policy["Statement"][0]["Resource"] == "https://d111.cloudfront.net/recordings/uploads/3/hls/*"


def test_nothing_is_set_without_a_signing_key(settings):
    settings.AWS_CLOUDFRONT_KEY_ID = ""
    settings.AWS_CLOUDFRONT_KEY = ""
    recording = Recording(cdn_prefix="replays/7/12", master_path="replays/7/12/master.m3u8")
    assert not cdn.sign_replay_response(HttpResponse(), recording).cookies
