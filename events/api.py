"""The viewer's JSON API (Django REST framework): read-only, public data only."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from events import page_cache, selectors
from events.selectors import get_watchable_event
from events.serializers import StreamDetailsSerializer
from events.views.viewer import viewer_page


class StreamDetailsView(APIView):
    """``GET /api/events/<id>/stream_details/``: what a player needs to show an event (like the
    AWS retail demo's stream_details). 404 for events the requester may not watch."""

    @extend_schema(
        operation_id="stream_details",
        summary="An event's stream details",
        description="Status, playback URL (signed for this viewer when the event is private), the "
        "product lineup and the product on screen now. 404 for events you may not watch.",
        responses={
            200: StreamDetailsSerializer,
            404: OpenApiResponse(description="No such event, or not one you may watch."),
        },
    )
    def get(self, request, pk: int):
        return page_cache.serve(
            request,
            page_cache.key_of("stream_details", request, pk),
            find_event=lambda: get_watchable_event(request.user, pk=pk),
            build=lambda event: self.render_details(request, event),
        )

    def render_details(self, request, event) -> HttpResponse:
        details = selectors.stream_details(event, user=request.user, viewer_page=viewer_page(request, event))
        body = JSONRenderer().render(StreamDetailsSerializer(details).data)
        return HttpResponse(body, content_type="application/json")
