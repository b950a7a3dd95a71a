"""``GET /api/analytics/shows/<id>/`` and ``GET /api/analytics/videos/<id>/``: a show's or an
uploaded video's figures as JSON (Django REST framework, in the OpenAPI schema), for owners and
hosts of its brand (Action.VIEW_ANALYTICS): the dashboard's numbers, from the same selectors.
Money per currency as decimal strings."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.permissions import Action
from analytics import selectors
from events.models import LiveEvent
from recordings.models import Recording


class ViewersPointSerializer(serializers.Serializer):
    at = serializers.CharField(help_text="the minute (ISO 8601); for replay retention, % of the video")
    viewers = serializers.IntegerField()


class ViewingSerializer(serializers.Serializer):
    unique_viewers = serializers.IntegerField()
    peak = serializers.IntegerField()
    peak_at = serializers.DateTimeField(allow_null=True)
    watch_ms = serializers.IntegerField()
    average_watch_s = serializers.IntegerField()
    curve = serializers.SerializerMethodField(help_text="viewers per minute")
    retention = serializers.SerializerMethodField(help_text="live: still watching by minute; replay: by 10 %")

    @extend_schema_field(ViewersPointSerializer(many=True))
    def get_curve(self, viewing) -> list[dict]:
        return [{"at": minute.isoformat(), "viewers": n} for minute, n in viewing.curve]

    @extend_schema_field(ViewersPointSerializer(many=True))
    def get_retention(self, viewing) -> list[dict]:
        return [{"at": str(at), "viewers": n} for at, n in viewing.retention]


class ProductSalesSerializer(serializers.Serializer):
    name = serializers.CharField()
    currency = serializers.CharField()
    units = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)


class HighlightFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="highlight.pk")
    featured_at = serializers.DateTimeField(source="highlight.created_at")
    product = serializers.CharField(source="label")
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    adds_to_cart = serializers.IntegerField(source="adds")
    orders = serializers.IntegerField()
    units = serializers.IntegerField()
    revenue = serializers.DictField(child=serializers.DecimalField(max_digits=14, decimal_places=2))


class ShowFiguresSerializer(serializers.Serializer):
    event = serializers.IntegerField(source="event.pk")
    title = serializers.CharField(source="event.title")
    unique_viewers = serializers.IntegerField()
    live = ViewingSerializer()
    replay = ViewingSerializer()
    orders = serializers.IntegerField(source="sales.orders")
    buyers = serializers.IntegerField(source="sales.buyers")
    revenue = serializers.DictField(
        source="sales.revenue", child=serializers.DecimalField(max_digits=14, decimal_places=2)
    )
    conversion = serializers.CharField()
    top_products = ProductSalesSerializer(many=True, source="sales.top_products")
    highlights = HighlightFiguresSerializer(many=True)
    chat_messages = serializers.IntegerField()
    reactions = serializers.DictField(child=serializers.IntegerField())
    dropped_beacons = serializers.IntegerField(source="dropped")


class CueFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="cue.pk")
    start_ms = serializers.IntegerField(source="cue.start_ms")
    product = serializers.CharField(source="label")
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    adds_to_cart = serializers.IntegerField(source="adds")
    orders = serializers.IntegerField()
    units = serializers.IntegerField()
    revenue = serializers.DictField(child=serializers.DecimalField(max_digits=14, decimal_places=2))


class VideoFiguresSerializer(serializers.Serializer):
    video = serializers.IntegerField(source="recording.pk")
    title = serializers.CharField(source="recording.title")
    viewing = ViewingSerializer(help_text="retention: viewers reaching each 10 % of the video")
    orders = serializers.IntegerField(source="sales.orders")
    buyers = serializers.IntegerField(source="sales.buyers")
    revenue = serializers.DictField(
        source="sales.revenue", child=serializers.DecimalField(max_digits=14, decimal_places=2)
    )
    conversion = serializers.CharField()
    top_products = ProductSalesSerializer(many=True, source="sales.top_products")
    cues = CueFiguresSerializer(many=True)
    dropped_beacons = serializers.IntegerField(source="dropped")


def _one_of_yours(queryset, request, pk: int):
    """The object of the user's brands (404 for another brand's), 403 for a role without analytics."""
    try:
        return permissions.get_for_user_or_404(queryset, request.user, Action.VIEW_ANALYTICS, pk=pk)
    except Http404:
        raise NotFound("Not found among your brands'.") from None
    except permissions.PermissionDenied as error:
        raise PermissionDenied(str(error)) from None


class ShowFiguresView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="show_analytics",
        summary="A show's analytics",
        description="Viewers (live and replay apart), curve, watch time, drop-off, each featured "
        "product's impressions, clicks, adds, orders and revenue, the show's orders, revenue per "
        "currency, conversion, top products, chat. Owners and hosts of the show's brand.",
        responses={
            200: ShowFiguresSerializer,
            403: OpenApiResponse(description="Not an owner or host of the show's brand."),
            404: OpenApiResponse(description="No such show among your brands'."),
        },
    )
    def get(self, request, pk: int):
        event = _one_of_yours(LiveEvent.objects.all(), request, pk)
        return Response(ShowFiguresSerializer(selectors.show_figures(event)).data)


class VideoFiguresView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="video_analytics",
        summary="An uploaded video's analytics",
        description="Viewers, viewers per minute, watch time, how far viewers got, each product "
        "cue's impressions, clicks, adds, orders and revenue, the video's orders, revenue per "
        "currency, conversion, top products. Owners and hosts of the video's brand.",
        responses={
            200: VideoFiguresSerializer,
            403: OpenApiResponse(description="Not an owner or host of the video's brand."),
            404: OpenApiResponse(description="No such uploaded video among your brands'."),
        },
    )
    def get(self, request, pk: int):
        video = _one_of_yours(Recording.objects.filter(backend=Recording.Backend.UPLOAD), request, pk)
        return Response(VideoFiguresSerializer(selectors.video_figures(video)).data)
