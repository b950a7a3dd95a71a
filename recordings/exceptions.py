"""Errors the recordings services raise; each message says what is wrong and where (bucket, key),
so it can be stored as a recording's failure reason and shown by the command or the admin."""

from events.exceptions import MalformedStreamEvent


class RecordingError(Exception):
    """Ingestion cannot go on. ``transient`` errors (S3 throttling, 5xx, network) may pass."""

    transient = False


class MalformedRecordingEvent(RecordingError, MalformedStreamEvent):
    """An "IVS Recording State Change" event without the fields IVS always sends (the webhook
    answers 400 for it as for any MalformedStreamEvent)."""


class IngestionInterrupted(RecordingError):
    """The ingestion was cancelled (Ctrl-C, SIGTERM): nothing is wrong with the recording, and
    running it again resumes the copy."""


class InvalidRecordingPrefix(RecordingError):
    """Not an IVS recording prefix (ivs/v1/<account>/<channel id>/<y>/<m>/<d>/<h>/<min>/<id>)."""


class UnknownChannel(RecordingError):
    """No live event uses the channel the recording belongs to."""


class RecordingNotFound(RecordingError):
    """Nothing recorded under the prefix (no events/recording-*.json)."""


class RecordingNotEnded(RecordingError):
    """The recording has started but IVS has not written recording-ended.json yet."""


class MalformedRecording(RecordingError):
    """The recording's metadata JSON or a playlist is not what IVS writes."""


class RecordingIncomplete(RecordingError):
    """A file the metadata names (a playlist) is missing from the prefix."""


class StorageAccessDenied(RecordingError):
    """S3 refused a request (IAM policy, bucket policy, credentials)."""


class StorageUnavailable(RecordingError):
    """S3 throttled, failed (5xx) or could not be reached: retrying later may work."""

    transient = True


class RecordingsNotConfigured(RecordingError):
    """No bucket to copy recordings to."""


class IngestionInProgress(RecordingError):
    """Another process is ingesting the same recording right now."""


class InvalidUpload(RecordingError):
    """An uploaded file is not a video Liveshop accepts (type, size, or ffprobe finds no video
    stream with a duration); nothing of it is kept."""


class TranscodeFailed(RecordingError):
    """ffmpeg could not turn an uploaded video into HLS: the message is a sentence for the brand
    (recordings.services.problems), ``detail`` ffmpeg's own words, for the log only."""

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail
