"""The studio's actions on an uploaded video's files: replace its source, delete it with its
files, pick its poster (a frame, or a picture). Permission, form, one service, as in
recordings.views.studio."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.permissions import Action
from liveshop.handlers import FORM_ENVELOPE_BYTES
from recordings.exceptions import InvalidUpload
from recordings.forms import PosterForm, VideoReplaceForm
from recordings.models import Recording
from recordings.services import posters, uploads, videos
from recordings.views.studio import recording_or_404, refuse_large_body, stream_files_to_disk, wants_json


@method_decorator(csrf_exempt, name="dispatch")  # upload handlers must be set before CSRF reads POST
class VideoReplaceView(LoginRequiredMixin, View):
    """POST a new file for an uploaded video: it is transcoded anew, its page and cues kept."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        if refusal := refuse_large_body(request):  # before CSRF, which would read the body
            return self._refused(request, recording, refusal, status=413)
        limit = stream_files_to_disk(request)
        return csrf_protect(lambda request: self._replace(request, recording, limit))(request)

    def _replace(self, request, recording: Recording, limit: int):
        too_large = limit if getattr(request, "upload_too_large", False) else None
        form = VideoReplaceForm(request.POST, request.FILES, too_large=too_large)
        if not form.is_valid():
            message = " ".join(form.errors.get("file", []))
            return self._refused(request, recording, message, status=413 if too_large else 400)
        try:
            videos.replace_source(recording=recording, file=form.cleaned_data["file"], by=request.user)
        except InvalidUpload as exc:
            return self._refused(request, recording, str(exc))
        url = reverse("videos:detail", args=[recording.pk])
        if wants_json(request):
            return JsonResponse({"id": recording.pk, "redirect": url})
        messages.success(request, gettext("The new file is uploaded; the video is being processed again."))
        return redirect(url)

    def _refused(self, request, recording: Recording, message: str, status: int = 400):
        if wants_json(request):
            return JsonResponse({"errors": {"file": [{"message": message}]}}, status=status)
        messages.error(request, gettext("The file was not replaced. %(reason)s") % {"reason": message})
        return redirect("videos:detail", pk=recording.pk)


class VideoDeleteView(LoginRequiredMixin, View):
    """POST: delete an uploaded video with its files (any state: failed, unwanted, published)."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        title = recording.title
        try:
            videos.delete_video(recording=recording, by=request.user)
        except InvalidUpload as exc:
            messages.error(request, str(exc))
            return redirect("videos:detail", pk=pk)
        if title:
            messages.success(request, gettext("“%(title)s” is deleted, with its files.") % {"title": title})
        else:
            messages.success(request, gettext("The video is deleted, with its files."))
        return redirect("videos:list")


@method_decorator(csrf_exempt, name="dispatch")  # a picture too large is refused before CSRF reads it
class VideoPosterView(LoginRequiredMixin, View):
    """POST ``at`` (a moment of the video: its frame) or ``image`` (a picture): the video's poster."""

    @staticmethod
    def max_body_bytes() -> int:  # liveshop.handlers reads no larger body
        return posters.MAX_IMAGE_BYTES + FORM_ENVELOPE_BYTES

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        if size > self.max_body_bytes():
            limit = uploads.human_size(posters.MAX_IMAGE_BYTES)
            messages.error(
                request,
                gettext("The poster was not changed. Pictures may be at most %(limit)s.") % {"limit": limit},
            )
            return redirect("videos:detail", pk=pk)
        return csrf_protect(lambda request: self._set(request, recording))(request)

    def _set(self, request, recording: Recording):
        form = PosterForm(request.POST, request.FILES)
        try:
            if not form.is_valid():
                raise InvalidUpload(
                    " ".join(message for errors in form.errors.values() for message in errors)
                )
            if image := form.cleaned_data["image"]:
                posters.set_poster_image(recording=recording, image=image, by=request.user)
            else:
                posters.set_poster(recording=recording, at_ms=form.cleaned_data["at"], by=request.user)
        except InvalidUpload as exc:
            messages.error(request, gettext("The poster was not changed. %(reason)s") % {"reason": exc})
        else:
            # uploaded videos have no embed yet: the page and its link previews show the poster
            if form.cleaned_data["image"]:
                done = gettext("The poster is this picture now, on the video's page and its link previews.")
            else:
                done = gettext("The poster is this frame now, on the video's page and its link previews.")
            messages.success(request, done)
        return redirect("videos:detail", pk=recording.pk)
