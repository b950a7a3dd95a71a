"""The studio's videos: the list, the upload form (a form's file streamed to disk; the page sends
it in parts instead, recordings.views.resumable), the processing page with live progress, and
the timeline editor (cues, SRT, publish).

Each view checks permission through accounts.permissions (404 for another brand's video, 403 when
the role may not edit), validates with a form and calls one recordings service."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from catalog.models import Product
from events.exceptions import InvalidCues, SrtImportError
from events.srt_cues import CueSpec, export_srt, parse_srt
from liveshop import handlers, jsoninput
from recordings import cdn, payloads, selectors
from recordings.exceptions import InvalidUpload
from recordings.forms import CaptionsForm, VideoReplaceForm, VideoUploadForm, clean_cue_rows
from recordings.models import Recording
from recordings.services import jobs, posters, uploads
from recordings.services.product_cues import replace_cues

Status = Recording.Status
MAX_SRT_BYTES = 1024 * 1024


def recording_or_404(request, pk: int, action: Action = Action.VIEW) -> Recording:
    recordings = Recording.objects.select_related("organization", "event")
    return permissions.get_for_user_or_404(recordings, request.user, action, pk=pk)


def _brands(user):
    return permissions.scope(Organization.objects.all(), user, Action.EDIT_RECORDING).order_by("name")


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or "X-Requested-With" in request.headers


def _thumbnail_url(recording: Recording) -> str:
    """Signed where the CDN requires it: a preview of an unpublished video shows its thumbnail."""
    return cdn.media_url(recording, recording.thumbnails[0]) if recording.thumbnails else ""


def _progress(recording: Recording) -> dict:
    return payloads.progress_payload(recording, thumbnail=_thumbnail_url(recording))


def public_url(recording: Recording) -> str:
    """The published video's page (recordings.replay_urls), or "" before it is published."""
    if not (recording.is_upload and recording.is_published and recording.slug):
        return ""
    try:
        return reverse("replays:video", args=[recording.organization.slug, recording.slug])
    except NoReverseMatch:
        return ""


class VideoListView(LoginRequiredMixin, View):
    """The uploaded videos of the user's brands, newest first, with status and progress."""

    def get(self, request):
        videos = permissions.scope(
            Recording.objects.filter(backend=Recording.Backend.UPLOAD).select_related("organization"),
            request.user,
        )
        rows = [(video, _progress(video)) for video in videos[:200]]
        context = {
            "rows": rows,
            "brands": _brands(request.user),
            "show_brand": len(permissions.roles_of(request.user)) != 1,
        }
        return render(request, "recordings/studio/video_list.html", context)


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file (never whole in memory) and drops one that grows
    past ``limit`` bytes as it arrives, noting it on the request."""

    def __init__(self, request, *, limit: int):
        super().__init__(request)
        self.limit, self.received = limit, 0

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = True
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)


def brand_for_upload(request) -> Organization | None:
    """``?brand=<slug>`` (404/403 as elsewhere), the only brand, or None: show the picker."""
    slug = request.GET.get("brand")
    if slug:
        return permissions.get_for_user_or_404(
            Organization.objects.all(), request.user, Action.EDIT_RECORDING, slug=slug
        )
    brands = list(_brands(request.user)[:2])
    if not brands:
        raise PermissionDenied(gettext("You may not upload videos for any brand."))
    return brands[0] if len(brands) == 1 else None


def stream_files_to_disk(request) -> int:
    """Before the body is read: files stream to temporary files, dropped past the size limit."""
    limit = settings.LIVESHOP_MAX_UPLOAD_BYTES
    request.upload_handlers = [LimitedUploadHandler(request, limit=limit)]
    return limit


def refuse_large_body(request) -> str:
    """Why a request whose Content-Length is over the largest upload (and its form) is refused
    without reading its body (liveshop.handlers withholds it from Django), or "" when it is not."""
    size = int(request.META.get("CONTENT_LENGTH") or 0)
    if size > handlers.max_body_bytes():
        limit = uploads.human_size(settings.LIVESHOP_MAX_UPLOAD_BYTES)
        return f"This upload is {uploads.human_size(size)}; videos may be at most {limit}."
    return ""


BRAND_PICKER = {
    "title": "Upload a video",
    "intro": "Which brand is this video for? Its product cues come from that brand's catalogue.",
    "crumb": "Videos",
    "step": "Upload",
    "list_url": "videos:list",
    "create_url": "videos:create",
}


@method_decorator(csrf_exempt, name="dispatch")  # upload handlers must be set before CSRF reads POST
class VideoCreateView(LoginRequiredMixin, View):
    """The upload form. Without S3 the file streams to a temporary file and is checked there."""

    template_name = "recordings/studio/video_form.html"

    def get(self, request):
        brand = brand_for_upload(request)
        if brand is None:
            context = {"brands": _brands(request.user), "picker": BRAND_PICKER}
            return render(request, "studio/brand_picker.html", context)
        return self._render(request, brand, VideoUploadForm())

    def post(self, request):
        brand = brand_for_upload(request)
        if brand is None:
            return redirect("videos:create")
        if refusal := refuse_large_body(request):  # before CSRF, which would read the body
            return self._invalid(request, brand, VideoUploadForm.refused(refusal), status=413)
        limit = stream_files_to_disk(request)
        return csrf_protect(lambda request: self._upload(request, brand, limit))(request)

    def _upload(self, request, brand: Organization, limit: int):
        data, files = request.POST, request.FILES  # parsed here: the handler flags a file too large
        too_large = limit if getattr(request, "upload_too_large", False) else None
        form = VideoUploadForm(data, files, too_large=too_large)
        if form.is_valid():
            try:
                video = uploads.create_upload(organization=brand, by=request.user, **form.cleaned_data)
            except InvalidUpload as exc:
                form.add_error("file", str(exc))
            else:
                return self._done(request, video)
        return self._invalid(request, brand, form, status=413 if too_large else 400)

    def _done(self, request, video: Recording):
        url = reverse("videos:detail", args=[video.pk])
        if wants_json(request):
            return JsonResponse({"id": video.pk, "redirect": url})
        messages.success(
            request, gettext("“%(title)s” is uploaded; it is being processed.") % {"title": video.title}
        )
        return redirect(url)

    def _invalid(self, request, brand: Organization, form, status: int = 400):
        if wants_json(request):
            return JsonResponse({"errors": form.errors.get_json_data()}, status=status)
        return self._render(request, brand, form, status=status)

    def _render(self, request, brand, form, status: int = 200):
        context = {
            "brand": brand,
            "form": form,
            "max_bytes": settings.LIVESHOP_MAX_UPLOAD_BYTES,
            "max_size": uploads.human_size(settings.LIVESHOP_MAX_UPLOAD_BYTES),
            "max_seconds": uploads.max_duration_seconds(),
            "max_duration": uploads.human_duration(uploads.max_duration_seconds()),
            "extensions": ", ".join(sorted(uploads.ALLOWED_EXTENSIONS)),
        }
        return render(request, self.template_name, context, status=status)


class VideoProgressView(LoginRequiredMixin, View):
    """JSON for the pages' progress bars: status, percent, failure reason."""

    def get(self, request, pk):
        response = JsonResponse(_progress(recording_or_404(request, pk)))
        response["Cache-Control"] = "no-store"
        return response


def _editor_products(recording: Recording) -> list[Product]:
    cued = recording.cues.values("product_id")
    products = Product.objects.filter(Q(is_active=True) | Q(pk__in=cued), organization=recording.organization)
    return list(products.order_by("name", "pk"))


class VideoDetailView(LoginRequiredMixin, View):
    """The processing page (live progress) and, once ready, the timeline editor."""

    def get(self, request, pk):
        return self.render_detail(request, recording_or_404(request, pk))

    def render_detail(self, request, recording: Recording, status: int = 200, **extra) -> HttpResponse:
        """The page; ``extra`` goes to the template (a bound form with its errors)."""
        pk = recording.pk
        can_edit = permissions.can(request.user, Action.EDIT_RECORDING, recording)
        products = _editor_products(recording) if recording.is_ready else []
        editor = {
            "canEdit": can_edit,
            "playbackUrl": recording.master_url,
            "withCredentials": cdn.requires_cookies(recording) and cdn.is_configured(),
            "durationMs": recording.duration_ms,
            "products": [payloads.editor_product_payload(p) for p in products],
            "cues": [payloads.cue_payload(cue) for cue in recording.cues.all()],
            "saveUrl": reverse("videos:cues", args=[pk]),
            "importUrl": reverse("videos:import-srt", args=[pk]),
            "progressUrl": reverse("videos:progress", args=[pk]),
        }
        context = {
            "video": recording,
            "title": recording.title or str(recording.event or recording),
            "can_edit": can_edit,
            "progress": _progress(recording),
            "editor": editor,
            "public_url": public_url(recording),
            "thumbnail": _thumbnail_url(recording),
            "replace_form": VideoReplaceForm(auto_id="replace_%s"),
            "poster_max_size": uploads.human_size(posters.MAX_IMAGE_BYTES),
            "caption_tracks": selectors.list_caption_tracks(recording),
            "late_cues": selectors.list_late_cues(recording) if recording.is_ready else [],
            "captions_form": CaptionsForm(auto_id="captions_%s"),
            **extra,
        }
        # The editor's player previews the video (published or not): its files need the cookies.
        response = render(request, "recordings/studio/video_detail.html", context, status=status)
        patch_cache_control(response, private=True, no_store=True)
        return cdn.sign_replay_response(response, recording)


def _json_error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


class CueSaveView(LoginRequiredMixin, View):
    """POST JSON ``{"cues": [{"productId", "startMs", "endMs"}]}``: the whole list replaces the
    recording's cues in one transaction (replace_cues). 400 with ``errors`` by row index."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        try:
            rows = jsoninput.loads(request.body or b"{}").get("cues")
        except jsoninput.JSONInputError as exc:
            return _json_error(f'Send JSON: {{"cues": [...]}} ({exc}).', 400)
        except (ValueError, AttributeError):
            return _json_error('Send JSON: {"cues": [...]}.', 400)
        products = {p.pk: p for p in Product.objects.filter(organization=recording.organization)}
        cues, errors = clean_cue_rows(rows, products=products)
        if errors:
            return _json_error(gettext("Some cues need fixing; nothing was saved."), 400, errors=errors)
        specs = _close_open_ends(
            [CueSpec(c.product, c.start_ms, c.end_ms, line=i + 1) for i, c in enumerate(cues)]
        )
        try:
            saved = replace_cues(recording=recording, cues=specs, by=request.user)
        except InvalidCues as exc:
            by_row: dict[int, list[str]] = {}
            for problem in exc.problems:  # line: the row's number in the list sent
                by_row.setdefault(problem.line - 1, []).append(problem.message)
            return _json_error(gettext("Some cues need fixing; nothing was saved."), 400, errors=by_row)
        return JsonResponse({"cues": [payloads.cue_payload(cue) for cue in saved]})


def _close_open_ends(specs: list[CueSpec]) -> list[CueSpec]:
    """In time order, an open cue (no end) runs until the next one starts: say so, as
    replace_cues wants every cue but the last to end before the next."""
    ordered = sorted(specs, key=lambda spec: spec.start_ms)
    return [
        replace(spec, end_ms=following.start_ms) if spec.end_ms is None else spec
        for spec, following in pairwise(ordered)
    ] + ordered[-1:]


class SrtImportView(LoginRequiredMixin, View):
    """POST an SRT file: its cues as the editor's rows (not saved: the editor's Save does that),
    or 400 with every problem by line."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        upload = request.FILES.get("file")
        if upload is None:
            return _json_error(gettext("Choose an SRT file."), 400)
        if upload.size > MAX_SRT_BYTES:
            return _json_error(gettext("That SRT file is too large (1 MB at most)."), 400)
        try:
            specs = parse_srt(upload.read(), organization=recording.organization)
        except SrtImportError as exc:
            return _json_error(f"{exc.summary}.", 400, problems=[str(p) for p in exc.problems])
        rows = [{"productId": s.product.pk, "startMs": s.start_ms, "endMs": s.end_ms} for s in specs]
        return JsonResponse(
            {"cues": rows, "products": [payloads.editor_product_payload(s.product) for s in specs]}
        )


class SrtExportView(LoginRequiredMixin, View):
    """The saved cues as an SRT download (``?key=sku`` for SKUs instead of product ids)."""

    def get(self, request, pk):
        recording = recording_or_404(request, pk)
        key = "sku" if request.GET.get("key") == "sku" else "productId"
        text = export_srt(recording.cues.select_related("product"), key=key, ends_at=recording.duration_ms)
        response = HttpResponse(text, content_type="application/x-subrip; charset=utf-8")
        name = recording.slug or f"recording-{recording.pk}"
        response["Content-Disposition"] = f'attachment; filename="{name}.srt"'
        return response


class VideoPublishView(LoginRequiredMixin, View):
    """POST ``published=1`` or ``0``: publish or unpublish an uploaded video."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        publish = request.POST.get("published") == "1"
        if not recording.is_upload:
            messages.error(request, gettext("Only uploaded videos are published from here."))
            return redirect("videos:detail", pk=pk)
        try:
            recording = uploads.set_published(recording=recording, published=publish, by=request.user)
        except InvalidUpload as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                gettext("Published: the video's page is live.") if publish else gettext("Unpublished."),
            )
        return redirect("videos:detail", pk=pk)


class VideoRetryView(LoginRequiredMixin, View):
    """POST: run a failed video's processing (or a recording's copy) again."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        try:
            jobs.retry_job(recording=recording, by=request.user)
        except jobs.NotRetryable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, gettext("Processing again: this page updates by itself."))
        return redirect("videos:detail", pk=pk)
