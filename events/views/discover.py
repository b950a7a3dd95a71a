"""Finding shows: the home page and a brand's page (``/b/<brand>/``) list live, upcoming and
replayed shows (events.listings); an upcoming show's "Remind me" is a calendar file for anyone
(``calendar.ics``) and, for signed-in viewers, an e-mail when it goes live (``remind/``).

Signed-out visitors share one copy of each list page for S_MAXAGE seconds (kept in each process,
and ``Cache-Control: public, s-maxage`` for a CDN): nothing in it is per viewer (countdowns and
local times are drawn by discover.js). Signed-in viewers get their own page (their brands on the
home page, their reminders, forms with their CSRF token), marked private."""

from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views import View

from accounts import permissions
from events import listings, page_cache, reminders, selectors
from events.http_cache import no_store_if_private
from events.models import LiveEvent
from events.selectors import get_watchable_event
from events.views.viewer import viewer_page

MAX_KEPT = 1_000  # pages kept (sites x brands): past it, start again rather than grow
_kept: dict[tuple, tuple[float, bytes, str]] = {}  # key -> (monotonic time built, body, type)


class HomeView(View):
    """The landing page: the shows on now, soon and to replay; for the brands' people, their
    brands and where to go next too."""

    def get(self, request):
        return serve_list_page(request, page_cache.key_of("home", request), lambda: self.render_page(request))

    def render_page(self, request):
        context = show_context(request, listings.list_shows())
        user = request.user
        if user.is_authenticated:
            roles = permissions.roles_of(user)
            context["brands"] = [(b, roles.get(b.pk, "superuser")) for b in selectors.list_brands(user)]
        return render(request, "home.html", context)


class BrandShowsView(View):
    """``/b/<brand>/``: one brand's shows."""

    def get(self, request, brand: str):
        key = page_cache.key_of("brand", request, brand)
        return serve_list_page(request, key, lambda: self.render_page(request, brand))

    def render_page(self, request, brand: str):
        organization = listings.get_brand(brand)
        context = {"organization": organization, **show_context(request, listings.list_shows(organization))}
        return render(request, "events/brand.html", context)


def show_context(request, shows: listings.Shows) -> dict:
    """The sections, and which upcoming shows the viewer already asked to be reminded of."""
    reminded = reminders.reminded_event_ids(request.user, (event.pk for event in shows.upcoming))
    return {"shows": shows, "reminded": reminded}


def serve_list_page(request, key: tuple, build) -> HttpResponse:
    """``build()``'s response, shared between signed-out visitors for page_cache.S_MAXAGE
    seconds (per site: the pages hold absolute URLs); private for everyone else. The copy is
    kept in this process: a build is three queries, so each process building its own once per
    S_MAXAGE costs less than a Redis round trip per request would save."""
    if not page_cache.is_shareable(request):
        return page_cache.private(build())
    kept = _kept.get(key)
    if kept is not None and time.monotonic() - kept[0] < page_cache.S_MAXAGE:
        response = HttpResponse(kept[1], content_type=kept[2])
    else:
        response = build()
        if response.status_code != 200 or response.cookies:
            return page_cache.private(response)
        if len(_kept) >= MAX_KEPT:
            _kept.clear()
        _kept[key] = (time.monotonic(), response.content, response["Content-Type"])
    patch_cache_control(response, public=True, max_age=0, s_maxage=page_cache.S_MAXAGE)
    patch_vary_headers(response, ("Cookie",))
    return response


def forget_list_pages() -> None:
    """Drop this process's shared copies (tests start from none)."""
    _kept.clear()


class EventCalendarView(View):
    """``/e/<brand>/<event>/calendar.ics``: the show as a calendar entry (events.reminders)."""

    def get(self, request, brand: str, slug: str):
        event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
        body = reminders.calendar_file(event, page_url=viewer_page(request, event))
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{event.slug}.ics"'
        patch_cache_control(response, public=not event.is_private, max_age=page_cache.S_MAXAGE)
        return no_store_if_private(response, event)


class EventReminderView(View):
    """POST ``/e/<brand>/<event>/remind/``: e-mail me when this show goes live (``cancel=1``:
    don't). Signed-out viewers, past shows and accounts without an address are refused with
    the reason (403 / 400); the page they came from (``next``) is where they go back to."""

    def post(self, request, brand: str, slug: str):
        event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
        try:
            if request.POST.get("cancel"):
                reminders.cancel_reminder(event=event, user=request.user)
            else:
                reminders.sign_up_for_reminder(event=event, by=request.user, language=request.LANGUAGE_CODE)
        except reminders.ReminderRefused as exc:
            status = 400 if request.user.is_authenticated else 403
            return refused(request, event, str(exc), status=status)
        except PermissionDenied:
            return refused(request, event, gettext("You may not watch this show."), status=403)
        return redirect(back_to(request, event))


def refused(request, event: LiveEvent, reason: str, *, status: int) -> HttpResponse:
    context = {"event": event, "reason": reason, "back": back_to(request, event)}
    response = render(request, "events/reminder_refused.html", context, status=status)
    return page_cache.private(response)


def back_to(request, event: LiveEvent) -> str:
    """The ``next`` page when it is ours, else the event's brand page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("viewer:brand", kwargs={"brand": event.organization.slug})
