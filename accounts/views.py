from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts import permissions, services
from accounts.forms import SignInLinkForm, SignUpForm


class LoginView(auth_views.LoginView):
    """Django's login; without a ``next``, a brand's people land on the studio (where their work
    is), viewers on the home page (LOGIN_REDIRECT_URL)."""

    def get_default_redirect_url(self):
        if permissions.can_in_any(self.request.user, permissions.Action.VIEW):
            return resolve_url("events:list")
        return super().get_default_redirect_url()


class SignInLinkView(View):
    """``/signin/#<secret>``: a one-time sign-in link. The secret travels after "#", so no server
    log or Referer ever holds it; token_link.js puts it in this page's form, and the visitor's
    click posts it (mail scanners that fetch links cannot spend it)."""

    template_name = "registration/sign_in_link.html"

    def get(self, request):
        return render(request, self.template_name, {"form": SignInLinkForm()})

    def post(self, request):
        form = SignInLinkForm(request.POST)
        if form.is_valid():
            try:
                user, next_url = services.use_sign_in_link(token=form.cleaned_data["token"])
            except services.SignInLinkInvalid as exc:
                form.add_error(None, str(exc))
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(safe_next(request, next_url))
        return render(request, self.template_name, {"form": form}, status=400)


def safe_next(request, next_url: str) -> str:
    """``next_url`` when it is a path on this site, else the home page's name."""
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if next_url and safe else "home"


class SignUpView(View):
    """``/signup/``: a viewer creates an account (e-mail, display name, password) to chat, and is
    signed in; ``?next=`` brings them back to the show they came from."""

    template_name = "registration/sign_up.html"

    def get(self, request):
        context = {"form": SignUpForm(), "next": request.GET.get("next", "")}
        return render(request, self.template_name, context)

    def post(self, request):
        form = SignUpForm(request.POST)
        next_url = request.POST.get("next", "")
        if form.is_valid():
            try:
                user = services.sign_up_viewer(**form.cleaned_data)
            except services.SignUpRefused as exc:
                form.add_error("email", str(exc))
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(safe_next(request, next_url))
        return render(request, self.template_name, {"form": form, "next": next_url}, status=400)
