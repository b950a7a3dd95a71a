from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Recordings and videos"

    def ready(self):
        """Plug recordings into live events through events.extensions (events never imports
        recordings: the dependency runs one way). Dotted paths: imported on first use."""
        from events import extensions

        services = "recordings.services.recording_events"
        extensions.recording_event.fill(f"{services}.handle_recording_event")
        extensions.stream_session_created.fill(f"{services}.link_late_session")
        extensions.local_recording_saved.fill(f"{services}.queue_local_ingestion")
        extensions.recording_detail_limits.fill(f"{services}.detail_limits")
        extensions.replay_url.fill("recordings.selectors.event_replay_url")
        extensions.event_recordings.fill("recordings.selectors.list_event_recordings")
        extensions.public_replays.fill("recordings.listings.public_replays")
