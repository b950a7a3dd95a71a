"""The authentication backend: Django's ModelBackend behind the login throttle."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from accounts import throttle


class ThrottledModelBackend(ModelBackend):
    """ModelBackend, but an account or address with too many recent failures is refused before
    its password is checked (PermissionDenied stops every backend; ``authenticate()`` returns
    None). The refusal is noted on the request for the login forms' message and the 429."""

    def authenticate(self, request, username=None, password=None, **kwargs) -> AbstractBaseUser | None:
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None  # not a password login (ModelBackend would refuse it too): not counted
        address = throttle.client_address(request)
        refused = throttle.check(username=username, address=address)
        if refused is not None:
            if request is not None:
                setattr(request, throttle.THROTTLED_ATTRIBUTE, refused)
            raise PermissionDenied(refused.message)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            throttle.record_failure(username=username, address=address)
        else:
            throttle.record_success(username=username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
