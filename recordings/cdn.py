"""CloudFront signed cookies and URLs for private media (Recording.has_private_media: uploaded
videos, private events' replays).

A replay is a master playlist, rendition playlists and hundreds of segments: a signed URL covers
one object, so private replays use a *custom-policy* signed cookie set whose resource is a
wildcard over the recording's prefix instead. CloudFront requires RSA with SHA-1 for these
signatures (trusted key groups); the policy, signature and key id travel in three cookies
(docs: "Setting signed cookies using a custom policy"). The cookies' Path is the recording's
folder, so several private videos (two tabs, a studio preview) each keep their own set. A single
file shown outside the player (a poster, a studio thumbnail) gets a signed URL instead.

The distribution checks them only on the behaviors that trust the key group
(deploy/cloudformation.yaml: ``recordings/private/*`` and the older ``recordings/replays/uploads/*``).

Zero-copy replays (Recording.is_referenced, RECORDINGS_INGEST_MODE=reference) are the IVS
recordings bucket's own objects, served by the distribution's second origin under ``ivs/*``. Their
path says nothing about the event (IVS chooses it), so one behavior trusts the key group for all
of ``ivs/*`` and *every* viewer the app lets in gets cookies scoped to that one recording's IVS
prefix, public events' viewers too. A private event's recording is then never reachable without
the app's signature, however its path leaks, and a public one is reachable with any viewer's
cookies only within their TTL.
"""

from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import urlencode, urlsplit

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_cache_control

from recordings.models import PRIVATE_MEDIA_PREFIX, Recording

POLICY_COOKIE = "CloudFront-Policy"
SIGNATURE_COOKIE = "CloudFront-Signature"
KEY_PAIR_COOKIE = "CloudFront-Key-Pair-Id"


@dataclass(frozen=True)
class SignedCookies:
    """The three cookie values and when CloudFront stops accepting them."""

    values: dict[str, str]
    expires: datetime


def cloudfront_b64(data: bytes) -> str:
    """Base64 with CloudFront's URL-safe substitutions (+ -> -, = -> _, / -> ~)."""
    return base64.b64encode(data).replace(b"+", b"-").replace(b"=", b"_").replace(b"/", b"~").decode()


@cache
def _private_key(pem: str):
    # Environment variables often carry a PEM on one line with literal "\n" escapes.
    return serialization.load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)


def rsa_sha1_signer(pem: str):
    """A botocore ``rsa_signer``: PKCS#1 v1.5 with SHA-1, as CloudFront requires."""
    key = _private_key(pem)
    return lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def signed_cookies(*, resource: str, expires: datetime, key_id: str, private_key: str) -> SignedCookies:
    """A custom-policy cookie set allowing ``resource`` (``*`` wildcards allowed) until ``expires``."""
    signer = CloudFrontSigner(key_id, rsa_sha1_signer(private_key))
    policy = signer.build_policy(resource, expires).encode()
    values = {
        POLICY_COOKIE: cloudfront_b64(policy),
        SIGNATURE_COOKIE: cloudfront_b64(signer.rsa_signer(policy)),
        KEY_PAIR_COOKIE: key_id,
    }
    return SignedCookies(values=values, expires=expires)


def is_configured() -> bool:
    return bool(settings.AWS_CLOUDFRONT_KEY_ID and settings.AWS_CLOUDFRONT_KEY)


def _folder(recording: Recording) -> str:
    if recording.is_referenced:
        return recording.source_prefix.strip("/")
    return (recording.cdn_prefix or posixpath.dirname(recording.master_path)).strip("/")


def signs_replay(recording: Recording) -> bool:
    """Does the replay page set signed cookies (and media URLs get signed)? Private media, and
    every zero-copy replay (its ``ivs/*`` behavior trusts the key group for all recordings)."""
    return recording.has_private_media or recording.is_referenced


def requires_cookies(recording: Recording) -> bool:
    """Does the CDN serve ``recording``'s folder only with signed cookies (the distribution's
    behaviors that trust the key group)? Then the player must send them (``withCredentials``);
    elsewhere a credentialed request would meet the public behavior's ``*`` CORS answer."""
    if recording.is_referenced:
        return True
    folder = f"{_folder(recording)}/"
    legacy_uploads = f"{settings.RECORDINGS_CDN_PREFIX.strip('/')}/uploads/"
    return folder.startswith((f"{PRIVATE_MEDIA_PREFIX}/", legacy_uploads))


def recording_resource(recording: Recording) -> str:
    """The wildcard URL covering every object of ``recording`` on the CDN (master, renditions,
    segments, thumbnails)."""
    url = recording.file_url(f"{_folder(recording)}/").split("?", 1)[0]
    return f"{url.rstrip('/')}/*"


def media_url(recording: Recording, name: str) -> str:
    """The URL of one of ``recording``'s files (``name`` in the "recordings" storage): signed
    (canned policy, AWS_CLOUDFRONT_COOKIE_TTL) for private media and zero-copy replays when
    signing is configured."""
    url = recording.file_url(name)
    if not (signs_replay(recording) and is_configured() and urlsplit(url).scheme):
        return url
    signer = CloudFrontSigner(settings.AWS_CLOUDFRONT_KEY_ID, rsa_sha1_signer(settings.AWS_CLOUDFRONT_KEY))
    expires = datetime.now(UTC) + timedelta(seconds=settings.AWS_CLOUDFRONT_COOKIE_TTL)
    return signer.generate_presigned_url(url, date_less_than=expires)


def signed_query(recording: Recording) -> str:
    """The signed cookies' custom policy as a signed URL's query (``Policy``, ``Signature``,
    ``Key-Pair-Id``) over the recording's whole folder, for a page in a frame on another site: a
    browser neither stores nor sends our ``SameSite=Lax`` cookies there, so the player adds this
    to every playlist and segment request instead (static/js/lib/player.js). "" where nothing is
    signed (signing not configured, or the recording's files are public)."""
    if not (is_configured() and signs_replay(recording) and recording.master_path):
        return ""
    signed = signed_cookies(
        resource=recording_resource(recording),
        expires=datetime.now(UTC) + timedelta(seconds=settings.AWS_CLOUDFRONT_COOKIE_TTL),
        key_id=settings.AWS_CLOUDFRONT_KEY_ID,
        private_key=settings.AWS_CLOUDFRONT_KEY,
    )
    values = signed.values
    return urlencode(
        {
            "Policy": values[POLICY_COOKIE],
            "Signature": values[SIGNATURE_COOKIE],
            "Key-Pair-Id": values[KEY_PAIR_COOKIE],
        }
    )


def sign_replay_response(response: HttpResponse, recording: Recording) -> HttpResponse:
    """Set the recording's signed cookies on ``response`` when CloudFront signing is configured
    (AWS_CLOUDFRONT_KEY_ID / AWS_CLOUDFRONT_KEY), with the recording's folder as their Path; a
    no-op otherwise (locally, recordings.views.replay.RecordingMediaView checks each request)."""
    if not is_configured() or not recording.master_path:
        return response
    ttl = timedelta(seconds=settings.AWS_CLOUDFRONT_COOKIE_TTL)
    resource = recording_resource(recording)
    cookies = signed_cookies(
        resource=resource,
        expires=datetime.now(UTC) + ttl,
        key_id=settings.AWS_CLOUDFRONT_KEY_ID,
        private_key=settings.AWS_CLOUDFRONT_KEY,
    )
    for name, value in cookies.values.items():
        response.set_cookie(
            name,
            value,
            max_age=int(ttl.total_seconds()),
            path=urlsplit(resource).path.removesuffix("*") or "/",
            domain=settings.AWS_CLOUDFRONT_COOKIE_DOMAIN or None,
            secure=True,
            httponly=True,
            samesite="Lax",
        )
    # Cookies for one viewer (and with an expiry): never kept by a shared cache.
    patch_cache_control(response, private=True)
    return response
