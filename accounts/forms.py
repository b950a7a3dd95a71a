"""Login forms (the site's and the admin's) that say when logins are paused by the throttle."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts import throttle


class ThrottleMessageMixin:
    """Replaces "wrong username or password" by the throttle's message (and its wait) when the
    backend refused the attempt without checking the password."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            refused = getattr(self.request, throttle.THROTTLED_ATTRIBUTE, None)
            if refused is not None:
                raise forms.ValidationError(refused.message, code="throttled") from None
            raise


class LoginForm(ThrottleMessageMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottleMessageMixin, AdminAuthenticationForm):
    pass


class SignInLinkForm(forms.Form):
    """The secret of a one-time sign-in link (moved here from the URL's fragment by the page)."""

    token = forms.CharField(
        max_length=100,
        error_messages={"required": "This page needs the link from your e-mail: open it again."},
    )
