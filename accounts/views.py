from django.views.generic import TemplateView

from accounts import permissions
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
