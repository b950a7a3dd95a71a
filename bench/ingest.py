"""Recording ingestion vs ``aws s3 sync``: the same IVS recording copied on the same S3 (prints a table),
and the time from Recording End to a ready replay in both RECORDINGS_INGEST_MODEs.

    .venv/bin/python bench/ingest.py [--quick] [--segments 10,1] [--hours 2] [--concurrency 32]
                                     [--modes copy,reference] [--no-sync] [--ready-only]

A moto S3 server (ThreadedMotoServer, in a child process of its own so that its CPU is not
counted) listens on a free loopback port. For each segment length, a recording is written there in
IVS's layout (recordings/tests/recording_tree.py: 4 renditions of .ts segments with their playlists,
master playlists, a thumbnail a minute, events/*.json): 2 hours of 10-second segments is ~3,000
objects, of 1-second segments ~29,000 (``--quick``: 15 minutes of those, ~3,600). Segments are
kept small (0.2-1.9 KB): CopyObject is server-side, so the copying process's cost per object does
not depend on the size (S3's own time does; moto's is not S3's).

Then, against that server, in this one run:
  ingest_recording   the service (Django against a scratch PostgreSQL database, the production
                     settings, VIDEO_BACKEND=fake), a fresh destination; the CPU is this process's
                     (resource.getrusage: user + system) during the call, DB work included;
  again (ready)      the same call once more: a ready recording returns without an S3 request;
  again (force)      force=True: one listing of each side, nothing to copy, cues redone;
  interrupted+resume a fresh destination, CopyObject made to fail after 40% of the objects, then
                     the same call again: it must copy exactly the missing ones;
  Recording End      (both modes) the webhook's path without HTTP: recordings.services.
  -> ready           handle_recording_event with IVS's "IVS Recording State Change" event; the
                     ingestion task runs eagerly after its commit, so the call returns once the
                     replay is ready (or failed); the S3 requests it made are counted by operation
                     (a botocore before-call hook). Wall time and this process's CPU.
  zero-copy          (--modes reference) LIVESHOP_RECORDINGS_INGEST_MODE=reference: the metadata, master
                     and rendition playlists read, each rendition's last segment checked, the
                     thumbnails listed; no CopyObject. Run twice (the second on a fresh row too).
  aws s3 sync        awscli (``aws`` on PATH; install it with ``pip install awscli`` in an
                     environment of its own, since it pins botocore) copying the same objects
                     (events/ excluded, as ingestion does) to another destination, with its
                     default 10 concurrent requests and with 32; CPU = the child's rusage; then
                     sync again with nothing to do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench_ingest"
SOURCE, CDN, MEDIA = "liveshop-ivs-recordings", "liveshop-cdn", "liveshop-media"
REGION = "us-west-2"
CHANNEL_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/BenchIngest01"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIABENCHBENCHBENCH0",
    "AWS_SECRET_ACCESS_KEY": "bench/secret/not/a/real/key/0000000000",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
MOTO_SERVER = """
import logging, sys, threading
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
threading.Event().wait()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def moto_server():
    """A ThreadedMotoServer in its own process; yields its endpoint URL."""
    try:
        import flask  # noqa: F401 (moto's server needs it)
    except ImportError:
        sys.exit(
            'The moto server needs Flask: .venv/bin/pip install "moto[server]==5.2.5" (or flask flask-cors)'
        )
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-c", MOTO_SERVER, str(port)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        if proc.stdout.readline().strip() != "ready":
            sys.exit("The moto server did not start.")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def setup_django(endpoint: str, db_url: str) -> None:
    os.environ.update(
        CREDENTIALS,
        DJANGO_SETTINGS_MODULE="liveshop.settings.base",
        DJANGO_DEBUG="false",  # no query log growing in memory
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_LOG_LEVEL="WARNING",
        DATABASE_URL=db_url,
        DJANGO_DB_POOL="false",
        REDIS_URL="",
        VIDEO_BACKEND="fake",
        AWS_S3_ENDPOINT_URL=endpoint,
        AWS_S3_REGION_NAME=REGION,
        AWS_STORAGE_BUCKET_NAME=MEDIA,  # the production storages: S3, "recordings" location
        AWS_RECORDINGS_BUCKET_NAME=CDN,
    )
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_event(started_at: datetime, hours: float):
    """A brand's event on CHANNEL_ARN with a product featured every 3 minutes (a clear now and
    then); earlier bench rows are removed."""
    from accounts.models import Organization
    from catalog.models import Product
    from events.models import Highlight, LiveEvent

    LiveEvent.objects.filter(slug="bench-ingest").delete()
    org, _ = Organization.objects.get_or_create(slug="bench-ingest", defaults={"name": "Bench Ingest"})
    event = LiveEvent.objects.create(
        organization=org,
        title="Bench ingest show",
        slug="bench-ingest",
        scheduled_start=started_at,
        status=LiveEvent.Status.ENDED,
        backend="ivs",
        channel_id=CHANNEL_ARN,
    )
    products = [
        Product.objects.get_or_create(
            organization=org, sku=f"BENCH-ING-{i}", defaults={"name": f"Bench product {i}", "price": "10.00"}
        )[0]
        for i in range(5)
    ]
    for n in range(int(hours * 20)):
        product = None if n % 7 == 6 else products[n % len(products)]
        highlight = Highlight.objects.create(event=event, product=product)
        Highlight.objects.filter(pk=highlight.pk).update(created_at=started_at + timedelta(minutes=3 * n + 1))
    return event


class FailingClient:
    """A boto3 client whose CopyObject fails from the (n+1)-th call on (a run killed halfway)."""

    def __init__(self, client, fail_after: int | None):
        self._client, self.fail_after, self.calls = client, fail_after, 0
        self._lock = threading.Lock()

    def copy_object(self, **params):
        from botocore.exceptions import ClientError

        with self._lock:
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                raise ClientError({"Error": {"Code": "InternalError", "Message": "bench kill"}}, "CopyObject")
        return self._client.copy_object(**params)

    def __getattr__(self, name):
        return getattr(self._client, name)


@contextlib.contextmanager
def counted_copies(fail_after: int | None = None):
    """Wrap the service's S3 client: yields a list that receives each client (with .calls)."""
    from liveshop import objectstore

    real, clients = objectstore.s3_client, []

    def factory(**kwargs):
        clients.append(FailingClient(real(**kwargs), fail_after))
        return clients[-1]

    objectstore.s3_client = factory
    try:
        yield clients
    finally:
        objectstore.s3_client = real


@contextlib.contextmanager
def counted_requests():
    """Count the S3 operations of every client the service makes: yields a Counter."""
    from collections import Counter

    from liveshop import objectstore

    real, operations = objectstore.s3_client, Counter()

    def factory(**kwargs):
        client = real(**kwargs)
        client.meta.events.register("before-call.s3", lambda model, **_: operations.update([model.name]))
        return client

    objectstore.s3_client = factory
    try:
        yield operations
    finally:
        objectstore.s3_client = real


def recording_end(spec) -> dict:
    """IVS's Recording End event for ``spec``, as EventBridge delivers it."""
    from liveshop.video.eventbridge import recording_state_change

    detail = {
        "recording_s3_bucket_name": SOURCE,
        "recording_s3_key_prefix": spec.prefix,
        "recording_duration_ms": spec.duration_ms,
        "recording_session_id": spec.session_id,
        "recording_status_reason": "",
        "recording_session_stream_ids": spec.stream_ids,
    }
    return recording_state_change(CHANNEL_ARN, "Recording End", spec.stream_ids[-1], **detail)


def requests_note(operations) -> str:
    names = {"ListObjectsV2": "List", "GetObject": "Get", "CopyObject": "Copy", "HeadObject": "Head"}
    parts = [f"{count} {names.get(name, name)}" for name, count in sorted(operations.items())]
    return f"{sum(operations.values())} S3 requests ({', '.join(parts)})"


def time_to_ready(spec, mode: str):
    """Recording End -> ready replay in ``mode`` on a fresh row: (recording, wall, cpu, operations)."""
    from django.conf import settings

    from recordings.models import Recording
    from recordings.services import handle_recording_event

    settings.RECORDINGS_INGEST_MODE = mode
    Recording.objects.filter(source_prefix=spec.prefix).delete()
    payload = recording_end(spec)
    with counted_requests() as operations:
        outcome, wall, cpu = timed(lambda: handle_recording_event(payload))
    recording = Recording.objects.get(source_prefix=spec.prefix)
    assert (outcome, recording.status) == ("queued", Recording.Status.READY), (
        outcome,
        recording.failure_reason,
    )
    assert recording.is_referenced == (mode == "reference")
    return recording, wall, cpu, operations


def empty(client, bucket: str, prefix: str) -> None:
    from liveshop.objectstore import list_objects

    keys = [o.key for o in list_objects(client, bucket=bucket, prefix=prefix)]
    for i in range(0, len(keys), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]]})


def timed(fn):
    cpu, wall = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall, cpu_seconds(resource.RUSAGE_SELF) - cpu


def aws_sync(endpoint: str, source: str, destination: str, concurrency: int | None) -> tuple[float, float]:
    """Run ``aws s3 sync``; returns (wall seconds, the child's CPU seconds)."""
    env = {**os.environ, **CREDENTIALS}
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write(
            "[default]\n" + (f"s3 =\n  max_concurrent_requests = {concurrency}\n" if concurrency else "")
        )
    env["AWS_CONFIG_FILE"] = config.name
    command = ["aws", "s3", "sync", source, destination, "--exclude", "events/*", "--only-show-errors"]
    cpu, wall = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    try:
        subprocess.run([*command, "--endpoint-url", endpoint], env=env, check=True)
    finally:
        os.unlink(config.name)
    return time.perf_counter() - wall, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def run_scenario(
    endpoint: str,
    client,
    segment_seconds: float,
    hours: float,
    concurrency: int,
    sync: bool,
    modes: tuple[str, ...] = ("copy", "reference"),
    ready_only: bool = False,
):
    from django.conf import settings

    from recordings.models import Recording
    from recordings.services import ingest_recording
    from recordings.tests.recording_tree import RecordingSpec, client_put, write_recording

    settings.RECORDINGS_COPY_CONCURRENCY = concurrency
    settings.RECORDINGS_INGEST_MODE = "copy"
    settings.IVS_RECORDINGS_BUCKET_NAME, settings.IVS_ACCOUNT_ID = SOURCE, CHANNEL_ARN.split(":")[4]
    started_at = datetime(2024, 6, 23, 20, 12, 3, tzinfo=UTC)
    event = seed_event(started_at, hours)
    spec = RecordingSpec(
        channel_arn=CHANNEL_ARN,
        started_at=started_at,
        streams=[(0.0, hours * 3600)],
        recording_id=f"bench{int(segment_seconds * 1000)}ms{int(hours * 60)}m",
        segment_seconds=segment_seconds,
    )
    print(f"\n== {hours:g} h of {segment_seconds:g}-second segments: writing the recording ...", flush=True)
    wall = time.perf_counter()
    objects = write_recording(client_put(client, SOURCE), spec, concurrency=32)
    n = sum(1 for key in objects if not key.startswith("events/"))
    print(f"   {len(objects)} objects written in {time.perf_counter() - wall:.0f} s; {n} to copy", flush=True)
    destination = f"recordings/replays/{event.pk}/{spec.recording_id}/"
    rows = []

    def ingest(**kwargs):
        return ingest_recording(bucket=SOURCE, prefix=spec.prefix, **kwargs)

    def reset():
        Recording.objects.filter(source_prefix=spec.prefix).delete()
        empty(client, CDN, destination)

    for mode in modes:  # Recording End -> ready, as the webhook runs it (a fresh row each time)
        for run in (1, 2) if mode == "reference" else (1,):
            if mode == "copy":
                reset()
            recording, wall, cpu, operations = time_to_ready(spec, mode)
            copies = operations["CopyObject"]
            label = f"End -> ready, {mode}" + (f" #{run}" if mode == "reference" else "")
            rows.append((label, n, copies, wall, cpu, requests_note(operations)))
    if "copy" not in modes or ready_only:
        return rows
    settings.RECORDINGS_INGEST_MODE = "copy"

    reset()
    with counted_copies() as clients:
        recording, wall, cpu = timed(ingest)
    assert recording.status == Recording.Status.READY and clients[0].calls == n, (recording.status, n)
    rows.append(("ingest_recording", n, clients[0].calls, wall, cpu, f"{recording.cues.count()} cues"))
    _, wall, cpu = timed(ingest)
    rows.append(("  again (ready)", n, 0, wall, cpu, "no S3 request"))
    with counted_copies() as clients:
        _, wall, cpu = timed(lambda: ingest(force=True))
    rows.append(("  again (force=True)", n, clients[0].calls, wall, cpu, "2 listings, cues redone"))

    reset()
    failed = "no failure?"
    with counted_copies(fail_after=int(n * 0.4)) as clients:
        try:
            ingest()
        except Exception as exc:  # the injected failure
            failed = f"{type(exc).__name__}"
    done = int(n * 0.4)
    with counted_copies() as clients:
        recording, wall, cpu = timed(ingest)
    resumed_ok = clients[0].calls == n - done and recording.status == Recording.Status.READY
    rows.append(
        (
            "  resumed after a kill at 40%",
            n,
            clients[0].calls,
            wall,
            cpu,
            f"{failed}; missing {n - done}: {'exactly those' if resumed_ok else 'MISMATCH'}",
        )
    )

    if sync:
        for label, concurrency_ in (
            ("aws s3 sync (default 10)", None),
            (f"aws s3 sync ({concurrency})", concurrency),
        ):
            target = f"s3://{CDN}/sync-{concurrency_ or 10}/{spec.recording_id}/"
            wall, cpu = aws_sync(endpoint, f"s3://{SOURCE}/{spec.prefix}/", target, concurrency_)
            rows.append((label, n, n, wall, cpu, ""))
        wall, cpu = aws_sync(endpoint, f"s3://{SOURCE}/{spec.prefix}/", target, concurrency)
        rows.append(("  sync again (nothing to do)", n, 0, wall, cpu, ""))
    return rows


def print_table(title: str, rows) -> None:
    print(f"\n{title}")
    columns = ("objects", "copied", "wall s", "obj/s", "CPU s", "CPU ms/obj")
    header = f"{'run':<30} " + " ".join(f"{c:>{max(8, len(c))}}" for c in columns) + "  notes"
    print(header)
    print("-" * len(header))
    for label, objects, copied, wall, cpu, notes in rows:
        rate = f"{copied / wall:.0f}" if copied else "-"
        values = (objects, copied, f"{wall:.3f}" if wall < 1 else f"{wall:.2f}", rate, f"{cpu:.2f}")
        values += (f"{1000 * cpu / objects:.3f}",)
        cells = " ".join(f"{v:>{max(8, len(c))}}" for v, c in zip(values, columns, strict=True))
        print(f"{label:<30} {cells}  {notes}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--segments", default="10,1", help="segment lengths in seconds, one run each")
    parser.add_argument("--hours", type=float, default=2.0, help="recording length")
    parser.add_argument("--quick", action="store_true", help="1-second segments for 15 minutes, not 2 hours")
    parser.add_argument("--concurrency", type=int, default=32, help="LIVESHOP_RECORDINGS_COPY_CONCURRENCY")
    parser.add_argument("--no-sync", action="store_true", help="skip aws s3 sync")
    parser.add_argument(
        "--ready-only", action="store_true", help="only the Recording End -> ready rows (no resume, no sync)"
    )
    parser.add_argument(
        "--modes", default="copy,reference", help="RECORDINGS_INGEST_MODEs to time from Recording End"
    )
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    args = parser.parse_args()
    sync = not (args.no_sync or args.ready_only)
    if sync and shutil.which("aws") is None:
        sys.exit(
            "aws s3 sync needs the AWS CLI: pip install awscli (in its own environment), or pass --no-sync."
        )
    with moto_server() as endpoint:
        setup_django(endpoint, args.db_url)
        from liveshop.objectstore import s3_client

        client = s3_client(max_pool_connections=40)
        for bucket in (SOURCE, CDN, MEDIA):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        print(f"moto S3 at {endpoint}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        tables = []
        for seconds in (float(s) for s in args.segments.split(",")):
            hours = 0.25 if args.quick and seconds < 10 else args.hours
            modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
            rows = run_scenario(
                endpoint, client, seconds, hours, args.concurrency, sync, modes, args.ready_only
            )
            tables.append((f"{hours:g} h, {seconds:g}-second segments, 4 renditions", rows))
            print_table(*tables[-1])
    print("\n=== Summary ===")
    for title, rows in tables:
        print_table(title, rows)


if __name__ == "__main__":
    main()
