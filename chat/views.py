"""Chat's pages beyond the viewer socket: the owners' CSV export of an event's chat."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from chat import selectors
from events.models import LiveEvent
from liveshop.csvexport import stream_csv


class ChatExportView(LoginRequiredMixin, View):
    """``/studio/events/<id>/chat.csv``: every message of the event, hidden ones marked, for the
    brand's owners (EXPORT_CHAT); another brand's event is a 404."""

    def get(self, request, pk: int):
        event = permissions.get_for_user_or_404(
            LiveEvent.objects.all(), request.user, Action.EXPORT_CHAT, pk=pk
        )
        return stream_csv(f"chat-{event.slug}.csv", selectors.EXPORT_HEADER, selectors.export_rows(event))
