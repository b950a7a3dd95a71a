from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from accounts import permissions, services
from accounts.forms import SignInLinkForm
from accounts.models import Organization


class HomeView(TemplateView):
    """The landing page: for staff, the brands they belong to and where to go next."""

    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if user.is_authenticated:
            roles = permissions.roles_of(user)
            brands = permissions.scope(Organization.objects.all(), user)
            context["brands"] = [(brand, roles.get(brand.pk, "superuser")) for brand in brands]
        return context


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
                safe = url_has_allowed_host_and_scheme(
                    next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
                )
                return redirect(next_url if next_url and safe else "home")
        return render(request, self.template_name, {"form": form}, status=400)
