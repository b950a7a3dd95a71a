"""Invited viewers' pages: following an invite link (``/i/#<secret>``), signing in to use it (a
password, or a one-time link e-mailed to any address), and asking for a fresh sign-in link when
an invitation e-mail's has expired.

The secret sits after "#" in the link, so it never reaches a server log: token_link.js posts it.
Each view is thin: validate a form, call events.invitations, render or redirect."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from events import invitations
from events.exceptions import InviteLinkInvalid
from events.forms import InviteEmailForm, InviteTokenForm

PENDING_LINK = "liveshop.invite_link"  # session key: the invite link an anonymous visitor opened


def _refused(request, message: str, status: int = 400):
    return render(request, "events/invite/refused.html", {"message": message}, status=status)


class InviteView(View):
    """``/i/``: an invite link. Signed in: invited, then on to the event. Otherwise the link is
    remembered in the session and the visitor is asked to sign in."""

    def get(self, request):
        return render(request, "events/invite/open.html", {"form": InviteTokenForm()})

    def post(self, request):
        form = InviteTokenForm(request.POST)
        if not form.is_valid():
            return render(request, "events/invite/open.html", {"form": form}, status=400)
        try:
            link = invitations.find_invite_link(form.cleaned_data["token"])
            if request.user.is_authenticated:
                event = invitations.accept_invite_link(link_id=link.pk, user=request.user)
                return redirect(invitations.watch_path(event))
        except InviteLinkInvalid as exc:
            return _refused(request, str(exc))
        request.session[PENDING_LINK] = link.pk
        context = {"event": link.event, "form": InviteEmailForm()}
        return render(request, "events/invite/sign_in.html", context)


class InviteEmailView(View):
    """POST an address: it gets a one-time sign-in link that ends by using the invite link this
    session opened. The answer is the same whether or not a link was sent."""

    def post(self, request):
        link_id = request.session.get(PENDING_LINK)
        if link_id is None:
            return _refused(request, "Open your invite link first (all of it), then ask for a sign-in link.")
        try:
            link = invitations.get_usable_link(link_id)
        except InviteLinkInvalid as exc:
            return _refused(request, str(exc))
        form = InviteEmailForm(request.POST)
        if not form.is_valid():
            context = {"event": link.event, "form": form}
            return render(request, "events/invite/sign_in.html", context, status=400)
        invitations.send_invite_sign_in_link(link=link, email=form.cleaned_data["email"])
        return render(request, "events/invite/sent.html", {"email": form.cleaned_data["email"]})


class InviteContinueView(LoginRequiredMixin, View):
    """After signing in: use the invite link this session opened (password login) or the one the
    sign-in link names (``?c=``, signed and bound to the address), then go to the event."""

    def get(self, request):
        link_id = request.session.get(PENDING_LINK)
        if link_id is None and request.GET.get("c"):
            link_id = invitations.link_id_from_continue(request.GET["c"], user=request.user)
        if link_id is None:
            return _refused(request, "Open your invite link again: this browser has no invitation to use.")
        try:
            event = invitations.accept_invite_link(link_id=link_id, user=request.user)
        except InviteLinkInvalid as exc:
            return _refused(request, str(exc))
        request.session.pop(PENDING_LINK, None)
        return redirect(invitations.watch_path(event))


class InvitedSignInView(View):
    """``/i/signin/``: an invited address asks for a fresh one-time sign-in link."""

    def get(self, request):
        return render(request, "events/invite/request_link.html", {"form": InviteEmailForm()})

    def post(self, request):
        form = InviteEmailForm(request.POST)
        if not form.is_valid():
            return render(request, "events/invite/request_link.html", {"form": form}, status=400)
        invitations.send_invited_sign_in_link(email=form.cleaned_data["email"])
        return render(request, "events/invite/sent.html", {"email": form.cleaned_data["email"]})
