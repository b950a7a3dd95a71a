"""Captions (issue 16): the studio's WebVTT upload and removal for a recording or uploaded video,
and the caption file the replay page's <track> reads. Permission through accounts.permissions
(the studio: EDIT_RECORDING; the file: the recording's own watch rule), a form, one service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext, ngettext
from django.views import View

from accounts.permissions import Action
from recordings import selectors
from recordings.forms import CaptionsForm
from recordings.models import CaptionTrack
from recordings.services import captions
from recordings.views.studio import VideoDetailView, recording_or_404
from recordings.webvtt import InvalidWebVtt

CACHE_SECONDS = 3600  # each new file has a new URL (?v=), so a cached copy is never stale


class CaptionsUploadView(LoginRequiredMixin, View):
    """POST a .vtt file with its language: stored, or the studio page again with every problem."""

    def post(self, request, pk):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        form = CaptionsForm(request.POST, request.FILES, auto_id="captions_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                track = captions.attach_captions(
                    recording=recording,
                    data=data["file"].read(),
                    language=data["language"],
                    label=data["label"],
                    by=request.user,
                )
            except InvalidWebVtt as exc:  # the form read it already; kept for a changed file
                form.add_error("file", [str(problem) for problem in exc.problems])
            else:
                messages.success(
                    request,
                    ngettext(
                        "Captions “%(label)s” saved: %(count)s caption.",
                        "Captions “%(label)s” saved: %(count)s captions.",
                        track.cue_count,
                    )
                    % {"label": track.label, "count": track.cue_count},
                )
                return redirect(reverse("videos:detail", args=[pk]) + "#captions")
        return VideoDetailView().render_detail(request, recording, status=400, captions_form=form)


class CaptionsDeleteView(LoginRequiredMixin, View):
    def post(self, request, pk, track_id):
        recording = recording_or_404(request, pk, Action.EDIT_RECORDING)
        track = get_object_or_404(CaptionTrack, pk=track_id, recording=recording)
        captions.remove_captions(track=track, by=request.user)
        messages.success(request, gettext("Captions “%(label)s” removed.") % {"label": track.label})
        return redirect("videos:detail", pk=pk)


class CaptionsFileView(View):
    """The WebVTT text for the player's <track>, for whoever may watch the recording (404 else)."""

    def get(self, request, track_id):
        track = get_object_or_404(
            CaptionTrack.objects.select_related("recording__event", "recording__organization"), pk=track_id
        )
        if not selectors.may_watch_recording(request.user, track.recording):
            raise Http404("No such captions.")
        response = HttpResponse(track.text, content_type="text/vtt; charset=utf-8")
        # Like its media files: shared caches only for what anyone may watch for good.
        if track.recording.has_private_media:
            patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
        else:
            patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
        return response
