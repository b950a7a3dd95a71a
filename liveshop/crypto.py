"""Encryption at rest for secrets Liveshop must store (local stream keys).

Keys come from LIVESHOP_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first, so keys can
be rotated); without it a key is derived from SECRET_KEY, which suits the demo but ties stored
secrets to that SECRET_KEY.
"""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@functools.cache
def _fernet() -> MultiFernet:
    keys = list(settings.LIVESHOP_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(f"liveshop-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The plain value; ValueError when the token was not made with a configured key."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("Cannot decrypt: LIVESHOP_ENCRYPTION_KEYS does not hold the key used.") from exc


def digest(value: str) -> str:
    """A keyed hash to find a row by a secret without storing the secret in the clear."""
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())
