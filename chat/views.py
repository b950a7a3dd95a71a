"""Chat's pages beyond the viewer socket: the owners' CSV export of an event's chat, the chat of
a recording's replay (read a window at a time)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, JsonResponse
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from chat import replay, selectors
from events.models import LiveEvent
from liveshop.csvexport import stream_csv
from recordings.models import Recording
from recordings.selectors import may_watch_recording


class ChatExportView(LoginRequiredMixin, View):
    """``/studio/events/<id>/chat.csv``: every message of the event, hidden ones marked, for the
    brand's owners (EXPORT_CHAT); another brand's event is a 404."""

    def get(self, request, pk: int):
        event = permissions.get_for_user_or_404(
            LiveEvent.objects.all(), request.user, Action.EXPORT_CHAT, pk=pk
        )
        return stream_csv(f"chat-{event.slug}.csv", selectors.EXPORT_HEADER, selectors.export_rows(event))


class ReplayChatView(View):
    """``/api/recordings/<id>/chat/?from_ms=N``: the messages and reactions of the replay's window
    starting at N ms (chat.replay.WINDOW_MS long), each at its position. Whoever may watch the
    recording; 404 for anyone else (a private show is not revealed) and for uploaded videos
    (no chat); 400 for a bad ``from_ms``."""

    def get(self, request, pk: int):
        recording = (
            Recording.objects.select_related("event", "event__organization", "organization")
            .prefetch_related("sessions")
            .filter(pk=pk, event__isnull=False, started_at__isnull=False)
            .first()
        )
        if recording is None or not may_watch_recording(request.user, recording):
            raise Http404("No such replay.")
        raw = request.GET.get("from_ms", "0")
        if not raw.isdigit() or int(raw) % replay.WINDOW_MS:
            return JsonResponse(
                {"error": f"from_ms is a whole multiple of {replay.WINDOW_MS} ms from the video's start."},
                status=400,
            )
        response = JsonResponse(replay.replay_window(recording, int(raw)))
        response["Cache-Control"] = "private, max-age=60"
        return response
