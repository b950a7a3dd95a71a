import logging

from celery import shared_task

from recordings import services
from recordings.exceptions import IngestionInProgress, RecordingError

logger = logging.getLogger(__name__)

# S3 throttling or an outage: back off 30 s, 1 min, 2 min ... up to 10 min, about an hour in all.
MAX_RETRIES = 8


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def ingest_recording_task(self, bucket: str, prefix: str) -> str:
    """Ingest one recording (Recording End); returns its status. Transient S3 errors retry with
    backoff; other errors are already recorded on the recording and are not retried."""
    try:
        recording = services.ingest_recording(bucket=bucket, prefix=prefix)
    except IngestionInProgress:
        return "busy"
    except RecordingError as exc:
        if exc.transient and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
        logger.warning(
            "Recording ingestion failed", extra={"bucket": bucket, "prefix": prefix, "reason": str(exc)}
        )
        return "failed"
    return recording.status


@shared_task(ignore_result=True)
def transcode_upload_task(recording_id: int) -> str:
    """Transcode an uploaded video to HLS; returns its status (ready, or failed with the reason
    stored on the video; ffmpeg errors are not retried). A repeated delivery (a killed worker's
    message) while another attempt holds the job returns "processing" without working."""
    from recordings.services.transcode import transcode_upload

    recording = transcode_upload(recording_id=recording_id)
    return recording.status if recording is not None else "deleted"


@shared_task(ignore_result=True)
def transcode_pieces_task(recording_id: int) -> int:
    """A worker's share of a long video's chunked transcode: the pieces nobody works on, one
    after another; returns how many it did (the video's own attempt joins them)."""
    from recordings.services.chunked import transcode_pieces

    return transcode_pieces(recording_id=recording_id)


@shared_task(ignore_result=True)
def delete_video_files_task(upload: str, folder: str) -> int:
    """A deleted or replaced video's original upload and HLS folder; returns the objects deleted."""
    from recordings.services.videos import delete_video_files

    return delete_video_files(upload=upload, folder=folder)


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def invalidate_cdn_folder_task(self, folder: str) -> str:
    """After a video's files are deleted: the CDN forgets the folder. Retried with backoff while
    CloudFront is throttling or unreachable; returns the invalidation's id ("" without a CDN)."""
    from recordings.invalidation import CdnError
    from recordings.services.videos import invalidate_cdn_folder

    try:
        return invalidate_cdn_folder(folder=folder)
    except CdnError as exc:
        if exc.transient and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
        logger.warning("CDN invalidation failed", extra={"folder": folder, "reason": str(exc)})
        return "failed"


@shared_task(ignore_result=True)
def check_stale_jobs_task() -> dict:
    """Celery beat, every RECORDINGS_STALE_CHECK_SECONDS: requeue or fail stuck recording jobs,
    and throw away resumable uploads nobody finished within a week."""
    from recordings.services.jobs import check_stale_jobs
    from recordings.services.resumable import expire_resumable_uploads

    result = check_stale_jobs()
    return {
        "requeued": result.requeued,
        "failed": result.failed,
        "folders_removed": result.folders_removed,
        "uploads_expired": expire_resumable_uploads(),
    }


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def ingest_local_recording_task(self, path: str, stream_id: str = "") -> str:
    """Convert and ingest a local media server recording (on_record_done); returns its status.
    Retried like ingest_recording_task; a file ffmpeg cannot convert is recorded as failed."""
    from recordings.services.local import ingest_local_recording

    try:
        recording = ingest_local_recording(flv=path, stream_id=stream_id)
    except IngestionInProgress:
        return "busy"
    except RecordingError as exc:
        if exc.transient and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
        logger.warning("Local recording ingestion failed", extra={"path": path, "reason": str(exc)})
        return "failed"
    return recording.status
