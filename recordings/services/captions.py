"""Caption tracks (WebVTT) of recordings and uploaded videos: attach one per language (a new file
for a language replaces the old one), remove one. The file is checked whole first
(recordings.webvtt); a bad file raises InvalidWebVtt and nothing is written."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts import permissions
from accounts.permissions import Action
from recordings.models import CaptionTrack, Recording
from recordings.webvtt import parse_webvtt

logger = logging.getLogger(__name__)


@transaction.atomic
def attach_captions(*, recording: Recording, data: bytes, language: str, label: str, by) -> CaptionTrack:
    """Store ``data`` (a WebVTT file's bytes) as ``recording``'s captions in ``language``.
    PermissionDenied unless ``by`` may edit the brand's recordings; InvalidWebVtt for a bad file."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    vtt = parse_webvtt(data)
    track = CaptionTrack.objects.select_for_update().filter(recording=recording, language=language).first()
    track = track or CaptionTrack(recording=recording, language=language)
    track.label, track.text, track.cue_count, track.created_by = label, vtt.text, len(vtt.cues), by
    track.full_clean()
    track.save()
    logger.info(
        "Captions attached", extra={"recording": recording.pk, "language": language, "cues": len(vtt.cues)}
    )
    return track


@transaction.atomic
def remove_captions(*, track: CaptionTrack, by) -> None:
    permissions.require(by, Action.EDIT_RECORDING, track.recording)
    track.delete()
    logger.info("Captions removed", extra={"recording": track.recording_id, "language": track.language})
