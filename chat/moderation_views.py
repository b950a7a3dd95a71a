"""The studio's moderation page for a brand's chats (``/studio/brands/<slug>/moderation/``):
messages held for review (approve, reject), the word list and what it does (refuse or hold),
the bans and time-outs in force (lift). For the brand's people with MODERATE_CHAT (owners,
hosts, moderators); another brand's page is a 404. Plain forms: each POST calls one service
and comes back to the page (POST/redirect/GET) with a message, or shows the form's errors."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views import View

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from chat import selectors, services
from chat.exceptions import ChatError
from chat.models import BrandChatPolicy, ChatMessage


class WordListForm(forms.Form):
    words = forms.CharField(
        label=gettext_lazy("Word list"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("One word or phrase a line, any case."),
    )
    action = forms.ChoiceField(
        label=gettext_lazy("A message with one of them is"),
        choices=BrandChatPolicy.WordAction.choices,
        widget=forms.RadioSelect,
    )


class ModerationIndexView(LoginRequiredMixin, View):
    """``/studio/moderation/``: the moderation page of the person's brand, or a choice of brands
    when they moderate several (none: 404)."""

    def get(self, request):
        brands = permissions.scope(Organization.objects.order_by("name"), request.user, Action.MODERATE_CHAT)
        brands = list(brands[:50])
        if not brands:
            raise Http404(gettext("You moderate no brand's chats."))
        if len(brands) == 1:
            return redirect(reverse("chat:moderation", args=[brands[0].slug]))
        return render(request, "chat/moderation_brands.html", {"brands": brands})


class ModerationView(LoginRequiredMixin, View):
    template_name = "chat/moderation.html"

    def brand(self, request, slug: str) -> Organization:
        return permissions.get_for_user_or_404(
            Organization.objects.all(), request.user, Action.MODERATE_CHAT, slug=slug
        )

    def get(self, request, brand: str, form: WordListForm | None = None):
        organization = self.brand(request, brand)
        words, action = selectors.word_policy(organization.pk)
        form = form or WordListForm(initial={"words": "\n".join(words), "action": action})
        return render(
            request,
            self.template_name,
            {
                "organization": organization,
                "held": selectors.held_messages(organization.pk)[:200],
                "restrictions": selectors.active_restrictions(organization.pk)[:200],
                "form": form,
            },
        )

    def post(self, request, brand: str):
        organization = self.brand(request, brand)
        step = request.POST.get("step")
        try:
            if step == "words":
                form = WordListForm(request.POST)
                if not form.is_valid():
                    return self.get(request, brand, form=form)
                data = form.cleaned_data
                services.set_blocked_words(
                    organization=organization, words=data["words"], action=data["action"], by=request.user
                )
                messages.success(request, gettext("Word list saved."))
            elif step in ("approve", "reject"):
                message = self._held(organization, request.POST.get("message"))
                services.review_message(message=message, approve=step == "approve", by=request.user)
                done = (
                    gettext("Message approved: viewers see it.")
                    if step == "approve"
                    else gettext("Message rejected.")
                )
                messages.success(request, done)
            elif step == "lift":
                user = get_user_model().objects.filter(pk=_int(request.POST.get("user"))).first()
                if user is None:
                    raise ChatError(gettext("No such person."))
                services.lift_restrictions(organization=organization, user=user, by=request.user)
                messages.success(request, gettext("Ban or time-out lifted."))
            else:
                raise ChatError(gettext("Unknown step."))
        except ChatError as exc:
            messages.error(request, exc.message)
        return redirect(reverse("chat:moderation", args=[organization.slug]))

    def _held(self, organization: Organization, raw) -> ChatMessage:
        message = ChatMessage.objects.filter(pk=_int(raw), event__organization=organization).first()
        if message is None:
            raise ChatError(gettext("That message is not in this brand's chats."))
        return message


def _int(raw) -> int:
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 0
