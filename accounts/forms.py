"""Login forms (the site's and the admin's) that say when logins are paused by the throttle, and
the viewers' sign-up form."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts import throttle
from accounts.time_zones import time_zone_choices
from liveshop.text import clean_text

DISPLAY_NAME_MAX = 40


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
        error_messages={"required": _("This page needs the link from your e-mail: open it again.")},
    )


class SignUpForm(forms.Form):
    """A viewer's account: e-mail (the login name), a display name others see in chat, and a
    password checked by Django's validators (AUTH_PASSWORD_VALIDATORS)."""

    email = forms.EmailField(max_length=150)  # the username too, whose column holds 150
    display_name = forms.CharField(
        max_length=DISPLAY_NAME_MAX, help_text=_("Shown beside your chat messages.")
    )
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)

    def clean_display_name(self):
        name = clean_text(self.cleaned_data["display_name"])
        if not name:
            raise forms.ValidationError(_("Choose a name others will see."), code="empty")
        return name

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if email and password:
            probe = get_user_model()(username=email, email=email, first_name=cleaned.get("display_name", ""))
            try:
                password_validation.validate_password(password, probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class BrandTimeZoneForm(forms.Form):
    """The studio's brand page: the brand's time zone, picked from the IANA zones."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,  # a callable: read when the form is made
        help_text=_("The studio shows and takes your shows' times in it; viewers see their own."),
    )
