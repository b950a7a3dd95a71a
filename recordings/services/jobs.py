"""Recording jobs that outlive their worker: a transcode claims a lease, progress extends it, and
a job whose lease ran out (its worker died) is noticed by the periodic check, run again or failed.

Celery acknowledges a task's message only when it ends, so a killed worker's task is delivered
again (at once when only the pool child died, after the broker's visibility timeout when the
whole worker did). Deliveries can therefore overlap or repeat; the lease makes the work happen
once:

- ``claim`` takes a waiting job (pending, or processing with a lease that ran out or whose owner
  process on this host is gone) for one attempt: a new owner, ``attempts`` + 1. A second delivery
  while the owner lives gets None and leaves; a ready or failed job is not taken (Retry is).
- ``Lease.beat`` extends the lease (with the progress); it raises LeaseLost when another attempt
  took the job over, so a stalled attempt stops instead of racing the new one.
- ``finish`` stores the outcome only while the lease is still the caller's.
- ``check_stale_jobs`` (Celery beat, ``manage.py check_stale_jobs``) requeues each stuck job up to
  RECORDINGS_JOB_MAX_ATTEMPTS starts, then fails it with a reason the brand sees; ``retry_job``
  is the studio's Retry button. Ingestions (IVS, local recordings) hold a PostgreSQL advisory lock
  while they copy, released when their process dies: a "copying" recording nobody holds is stuck.

Each attempt works in its own temporary folder (``work_folder``); it is removed when the attempt
ends, and the folders of killed attempts (their process is gone) when the job's next attempt
starts or the check runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts import permissions
from accounts.permissions import Action
from liveshop import processes
from liveshop.tasks import enqueue_on_commit
from recordings.exceptions import RecordingError
from recordings.models import Recording

logger = logging.getLogger(__name__)

Status = Recording.Status
FOLDER_PREFIX = "liveshop-job-"
BEAT_EVERY = 0.1  # of the lease: extend it at least this often while progress comes in
WAITING = (Status.PENDING, Status.PROCESSING)
STUCK_UPLOAD = (
    "Processing stopped unexpectedly {attempts} times (the server working on it restarted). "
    "Press Retry to try again; if it keeps failing, upload the video again."
)
STUCK_INGESTION = (
    "Copying the recording stopped unexpectedly {attempts} times (the server working on it "
    "restarted). Press Retry to try again."
)


class LeaseLost(RecordingError):
    """Another attempt has taken the job over (this one's lease ran out): stop, store nothing."""


def lease_seconds() -> int:
    return settings.RECORDINGS_JOB_LEASE_SECONDS


def max_attempts() -> int:
    return settings.RECORDINGS_JOB_MAX_ATTEMPTS


@dataclass
class Lease:
    """One attempt's hold on a job. ``owner`` is ``host:pid:uuid``."""

    recording_id: int
    owner: str
    attempt: int
    _last_beat: float = field(default_factory=time.monotonic)

    def beat(self, *, progress: int | None = None, force: bool = False) -> None:
        """Extend the lease (and write ``progress``), at most every tenth of the lease unless
        ``progress`` or ``force`` is given. Raises LeaseLost when the job is no longer ours."""
        if (
            progress is None
            and not force
            and time.monotonic() - self._last_beat < lease_seconds() * BEAT_EVERY
        ):
            return
        values = {} if progress is None else {"progress": progress}
        values["lease_expires_at"] = timezone.now() + timedelta(seconds=lease_seconds())
        mine = Recording.objects.filter(
            pk=self.recording_id, lease_owner=self.owner, status=Status.PROCESSING
        )
        if not mine.update(**values):
            raise LeaseLost(f"Another attempt has taken over video {self.recording_id}.")
        self._last_beat = time.monotonic()


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` ran on this host and its process is gone (a killed pool child)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not processes.is_alive(int(pid))


def is_stale(recording: Recording, *, now: datetime | None = None) -> bool:
    """A processing job nobody works on: no lease, a lease that ran out, or a dead owner here."""
    if recording.status != Status.PROCESSING:
        return False
    if not recording.lease_owner or recording.lease_expires_at is None:
        return True
    return recording.lease_expires_at <= (now or timezone.now()) or owner_is_dead(recording.lease_owner)


@transaction.atomic
def claim(*, recording_id: int) -> Lease | None:
    """Take an upload's transcode for this attempt (row locked): processing, progress 0, a new
    owner and lease, ``attempts`` + 1. None (nothing written) when it is not waiting or another
    attempt holds it; None and failed when it has been started RECORDINGS_JOB_MAX_ATTEMPTS
    times already (a video that kills its worker every time, e.g. out of memory, must not be
    redelivered for ever)."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if recording is None or not recording.is_upload or recording.status not in WAITING:
        return None  # deleted, not an upload, or not waiting
    if recording.status == Status.PROCESSING and not is_stale(recording):
        return None
    if recording.attempts >= max_attempts():
        _give_up(recording)
        return None
    if recording.status == Status.PROCESSING:
        logger.warning(
            "Taking over a stale job",
            extra={"recording": recording_id, "owner": recording.lease_owner, "attempt": recording.attempts},
        )
    recording.status, recording.progress, recording.failure_reason = Status.PROCESSING, 0, ""
    recording.attempts += 1
    recording.lease_owner = new_owner()
    recording.lease_expires_at = timezone.now() + timedelta(seconds=lease_seconds())
    fields = ["status", "progress", "failure_reason", "attempts", "lease_owner", "lease_expires_at"]
    recording.save(update_fields=[*fields, "updated_at"])
    return Lease(recording_id=recording_id, owner=recording.lease_owner, attempt=recording.attempts)


def finish(lease: Lease, *, status: str, **values) -> Recording:
    """Store the attempt's outcome (``status`` and fields) and end the lease, in one locked
    update; LeaseLost (nothing written) when the job is no longer the attempt's (or was deleted)."""
    with transaction.atomic():
        recording = Recording.objects.select_for_update().filter(pk=lease.recording_id).first()
        if recording is None or recording.lease_owner != lease.owner or recording.status != Status.PROCESSING:
            raise LeaseLost(f"Another attempt has taken over video {lease.recording_id}.")
        recording.status, recording.lease_owner, recording.lease_expires_at = status, "", None
        for name, value in values.items():
            setattr(recording, name, value)
        recording.save(update_fields=["status", "lease_owner", "lease_expires_at", "updated_at", *values])
    return recording


def hand_over(lease: Lease) -> None:
    """The attempt stops before the task's time limit and queues the job again (after commit):
    pending, no lease, this start not counted (a chunked transcode, recordings.services.chunked,
    keeps its finished pieces). LeaseLost when the job is no longer the attempt's."""
    with transaction.atomic():
        recording = Recording.objects.select_for_update().filter(pk=lease.recording_id).first()
        if recording is None or recording.lease_owner != lease.owner or recording.status != Status.PROCESSING:
            raise LeaseLost(f"Another attempt has taken over video {lease.recording_id}.")
        recording.status, recording.lease_owner, recording.lease_expires_at = Status.PENDING, "", None
        recording.attempts = max(0, recording.attempts - 1)
        recording.save(update_fields=["status", "lease_owner", "lease_expires_at", "attempts", "updated_at"])
        _queue_after_commit(recording)
    logger.info("Transcode handed over", extra={"recording": lease.recording_id, "attempt": lease.attempt})


@contextmanager
def work_folder(lease: Lease) -> Iterator[Path]:
    """This attempt's temporary folder, named by job, attempt and process: leftovers of the job's
    killed attempts on this machine are removed first, and the folder itself when the attempt
    ends, however it ends."""
    remove_leftovers(lease.recording_id)
    name = f"{FOLDER_PREFIX}{lease.recording_id}-{lease.attempt}-{os.getpid()}"
    folder = Path(tempfile.gettempdir()) / name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_leftovers(recording_id: int | None = None) -> list[Path]:
    """Remove the temporary folders of the job (or of every job) whose process is gone; returns
    them. A live process removes its own (several workers, or test runs, may share the folder)."""
    pattern = f"{FOLDER_PREFIX}{recording_id}-*" if recording_id is not None else f"{FOLDER_PREFIX}*"
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(pattern):
        pid = folder.name.rpartition("-")[2]
        if pid.isdigit() and processes.is_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


# The periodic check ---------------------------------------------------------------------------


@dataclass
class StaleCheck:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    folders_removed: int = 0


def check_stale_jobs() -> StaleCheck:
    """Find stuck jobs (processing uploads whose lease ran out; copying recordings no process
    ingests) and requeue each, or fail it past RECORDINGS_JOB_MAX_ATTEMPTS; remove this machine's
    leftover job folders. Safe to run anywhere, any number of times."""
    result = StaleCheck()
    for recording_id in _stale_candidates():
        outcome = requeue_or_fail(recording_id=recording_id)
        if outcome == "requeued":
            result.requeued.append(recording_id)
        elif outcome == "failed":
            result.failed.append(recording_id)
    result.folders_removed = len(remove_leftovers())
    if result.requeued or result.failed:
        logger.warning("Stale recording jobs", extra={"requeued": result.requeued, "failed": result.failed})
    return result


def _stale_candidates() -> list[int]:
    now = timezone.now()
    quiet = now - timedelta(seconds=lease_seconds())
    uploads = Recording.objects.filter(backend=Recording.Backend.UPLOAD, status=Status.PROCESSING)
    ingestions = Recording.objects.exclude(backend=Recording.Backend.UPLOAD).filter(
        status=Status.COPYING, updated_at__lt=quiet
    )
    ids = [
        r.pk for r in uploads.only("pk", "status", "lease_owner", "lease_expires_at") if is_stale(r, now=now)
    ]
    return ids + [pk for pk in ingestions.values_list("pk", flat=True) if not _ingestion_running(pk)]


def _ingestion_running(recording_id: int) -> bool:
    """Whether a process holds the recording's ingestion lock (PostgreSQL; elsewhere assume so)."""
    from recordings.services.ingest import LOCK_NAMESPACE

    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, recording_id])
        if not cursor.fetchone()[0]:
            return True
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, recording_id])
    return False


@transaction.atomic
def requeue_or_fail(*, recording_id: int) -> str:
    """One stuck job (row locked, checked again): "requeued" (its task queued after commit),
    "failed" (the reason says what happened and to press Retry) or "" (no longer stuck)."""
    recording = Recording.objects.select_for_update().get(pk=recording_id)
    if recording.is_upload and not is_stale(recording):
        return ""
    if not recording.is_upload and recording.status != Status.COPYING:
        return ""
    if not recording.is_upload:
        recording.attempts += 1  # an ingestion's starts are counted here, not by a claim
    if recording.attempts >= max_attempts():
        _give_up(recording)
        return "failed"
    recording.status = Status.PENDING if recording.is_upload else Status.COPYING
    recording.lease_owner, recording.lease_expires_at = "", None
    recording.save(update_fields=["status", "attempts", "lease_owner", "lease_expires_at", "updated_at"])
    _queue_after_commit(recording)
    return "requeued"


def _give_up(recording: Recording) -> None:
    template = STUCK_UPLOAD if recording.is_upload else STUCK_INGESTION
    recording.status, recording.failure_reason = Status.FAILED, template.format(attempts=recording.attempts)
    recording.lease_owner, recording.lease_expires_at = "", None
    fields = ["status", "failure_reason", "attempts", "lease_owner", "lease_expires_at"]
    recording.save(update_fields=[*fields, "updated_at"])
    logger.warning(
        "Recording job given up", extra={"recording": recording.pk, "attempts": recording.attempts}
    )


class NotRetryable(RecordingError):
    """Only a failed video or recording can be retried (and a recording needs its source)."""


@transaction.atomic
def retry_job(*, recording: Recording, by) -> Recording:
    """The brand's Retry: a failed upload back to pending (attempts from 0) with its transcode
    queued after commit, or a failed recording's ingestion queued again. NotRetryable otherwise;
    PermissionDenied unless ``by`` may edit the brand's recordings."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if recording.status != Status.FAILED:
        raise NotRetryable("Only a video whose processing failed can be retried.")
    if not recording.is_upload and not recording.source_prefix:
        raise NotRetryable("This recording has no source to copy again.")
    recording.status = Status.PENDING
    recording.progress, recording.attempts, recording.failure_reason = 0, 0, ""
    recording.save(update_fields=["status", "progress", "attempts", "failure_reason", "updated_at"])
    _queue_after_commit(recording)
    logger.info("Recording job retried", extra={"recording": recording.pk, "by": getattr(by, "pk", None)})
    return recording


def _queue_after_commit(recording: Recording) -> None:
    if recording.is_upload:
        enqueue_on_commit("recordings.tasks.transcode_upload_task", recording.pk)
    else:
        bucket, prefix = recording.source_bucket, recording.source_prefix
        enqueue_on_commit("recordings.tasks.ingest_recording_task", bucket, prefix)
