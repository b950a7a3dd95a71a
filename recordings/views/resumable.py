"""The studio's resumable upload (recordings.services.resumable), JSON for static/js/upload.js:
start it, ask what has arrived and where to send the rest, PUT a part (storage on disk: S3 takes
them itself), complete it, or give it up. Another brand's upload is a 404, a role that may not
upload a 403, as everywhere in the studio (accounts.permissions)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from recordings.exceptions import InvalidUpload
from recordings.forms import ResumableStartForm
from recordings.models import ResumableUpload
from recordings.services import resumable
from recordings.views.studio import brand_for_upload


def upload_or_404(request, upload_id) -> ResumableUpload:
    uploads = ResumableUpload.objects.select_related("organization")
    return permissions.get_for_user_or_404(uploads, request.user, Action.EDIT_RECORDING, pk=upload_id)


def refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": {"file": [{"message": message}]}}, status=status)


def state_payload(state: resumable.UploadState) -> dict:
    upload = state.upload
    return {
        "id": str(upload.pk),
        "title": upload.title,
        "filename": upload.filename,
        "size": upload.size,
        "partSize": upload.part_size,
        "partCount": upload.part_count,
        "received": state.received,
        "receivedBytes": state.received_bytes,
        "parts": [{"number": number, "url": url} for number, url in state.next_parts],
        "statusUrl": reverse("videos:upload", args=[upload.pk]),
        "completeUrl": reverse("videos:upload-complete", args=[upload.pk]),
    }


class ResumableStartView(LoginRequiredMixin, View):
    """POST title, filename, size, content_type: the upload, with where to PUT its first parts."""

    def post(self, request):
        brand = brand_for_upload(request)
        if brand is None:
            return JsonResponse({"errors": {"__all__": [{"message": "Choose a brand."}]}}, status=400)
        form = ResumableStartForm(request.POST)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        try:
            data = form.cleaned_data
            upload = resumable.start_resumable_upload(organization=brand, by=request.user, **data)
            state = resumable.upload_state(upload=upload)
        except InvalidUpload as exc:
            return refused(str(exc))
        return JsonResponse(state_payload(state), status=201)


class ResumableUploadView(LoginRequiredMixin, View):
    """GET: which parts arrived, where to PUT the next missing ones (after a drop or a reload).
    DELETE: give the upload up."""

    def get(self, request, upload_id):
        upload = upload_or_404(request, upload_id)
        try:
            state = resumable.upload_state(upload=upload)
        except InvalidUpload as exc:
            return refused(str(exc), status=410)
        response = JsonResponse(state_payload(state))
        response["Cache-Control"] = "no-store"
        return response

    def delete(self, request, upload_id):
        resumable.abort_resumable_upload(upload=upload_or_404(request, upload_id), by=request.user)
        return HttpResponse(status=204)


class ResumablePartView(LoginRequiredMixin, View):
    """PUT one part's bytes (the disk store's part URL). Its permission, number and exact
    Content-Length are checked before the body is read; the ASGI handler never reads a body larger
    than the largest part (liveshop.handlers: max_body_bytes)."""

    max_body_bytes = staticmethod(resumable.max_part_bytes)

    def put(self, request, upload_id, number):
        upload = upload_or_404(request, upload_id)
        length = content_length(request)
        try:
            resumable.check_part(upload=upload, number=number, length=length)
        except InvalidUpload as exc:
            too_large = length is not None and 1 <= number <= upload.part_count and length > upload.part_size
            return refused(str(exc), status=413 if too_large else 400)
        try:
            resumable.receive_part(upload=upload, number=number, length=length, body=request)
        except InvalidUpload as exc:
            return refused(str(exc))
        return JsonResponse({"number": number, "size": length})


def content_length(request) -> int | None:
    value = request.META.get("CONTENT_LENGTH", "")
    return int(value) if value.isdigit() else None


class ResumableCompleteView(LoginRequiredMixin, View):
    """POST: every part has arrived; check the file and make the video (or say why not)."""

    def post(self, request, upload_id):
        upload = upload_or_404(request, upload_id)
        try:
            video = resumable.complete_resumable_upload(upload=upload, by=request.user)
        except InvalidUpload as exc:
            return refused(str(exc))
        return JsonResponse({"id": video.pk, "redirect": reverse("videos:detail", args=[video.pk])})
