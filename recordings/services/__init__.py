"""Recordings use cases (writes), re-exported: import them from ``recordings.services``."""

from recordings.services.ingest import get_event_for_channel, ingest_recording
from recordings.services.pending import PendingScan, find_pending_recordings
from recordings.services.product_cues import build_cues, sync_product_cues
from recordings.services.recording_events import (
    RecordingEvent,
    handle_recording_event,
    note_recording,
    parse_recording_event,
    record_start_failure,
)

__all__ = [
    "PendingScan",
    "RecordingEvent",
    "build_cues",
    "find_pending_recordings",
    "get_event_for_channel",
    "handle_recording_event",
    "ingest_recording",
    "note_recording",
    "parse_recording_event",
    "record_start_failure",
    "sync_product_cues",
]
