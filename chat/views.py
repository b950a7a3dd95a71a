"""Chat's pages beyond the viewer socket: the owners' CSV export of an event's chat, the chat of
a recording's replay (read a window at a time)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, JsonResponse
from django.utils.translation import gettext
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from chat import replay, rooms, selectors
from chat.exceptions import MessageRefused
from chat.gateway import ChatBackendError
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


class ChatTokenView(LoginRequiredMixin, View):
    """``POST /api/events/<id>/chat/token/``: what the person's client needs to chat in the event's
    room in the chat service (CHAT_BACKEND=ivs: the room ARN, a token, its expiry and the
    capabilities their role gives); ``{"backend": "local"}`` where the page's socket carries chat.
    401 anonymous (JSON, not a redirect), 404 not allowed to watch, 409 a show that is over, 503
    the chat service failing."""

    raise_exception = True

    def handle_no_permission(self):
        return JsonResponse({"error": gettext("Sign in to chat."), "reason": "sign_in"}, status=401)

    def post(self, request, pk: int):
        event = LiveEvent.objects.select_related("organization").filter(pk=pk).first()
        if event is None or not permissions.may_watch(request.user, event):
            return JsonResponse({"error": gettext("No such show."), "reason": "not_found"}, status=404)
        try:
            access = rooms.chat_access(event=event, user=request.user)
        except MessageRefused as exc:
            return JsonResponse({"error": exc.message, "reason": exc.reason}, status=409)
        except ChatBackendError:
            return JsonResponse(
                {"error": gettext("Chat is not available right now."), "reason": "unavailable"}, status=503
            )
        if access.token is None:
            return JsonResponse({"backend": access.backend})
        return JsonResponse(
            {
                "backend": access.backend,
                "room": access.room_id,
                "region": settings.IVS_REGION,
                "token": access.token.token,
                "tokenExpirationTime": access.token.token_expires_at,
                "sessionExpirationTime": access.token.session_expires_at,
                "capabilities": sorted(access.capabilities),
            }
        )
