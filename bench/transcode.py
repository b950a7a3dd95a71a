"""Uploaded video -> ready: the transcode service against the same ffmpeg command run by hand, in
the same run, on the same machine (prints a table).

    .venv/bin/python bench/transcode.py [--seconds 120] [--rounds 1] [--sources 1080p,phone]
                                        [--source-file PATH] [--db-url postgres://.../liveshop_bench_transcode]

Sources, made first with ffmpeg's lavfi test pattern (testsrc2, a moving picture x264 cannot
shrink to nothing) and a tone, H.264/AAC at 30 fps: ``1080p`` 1920x1080 and ``phone`` 1080x1920
(a phone's portrait video), ``--seconds`` long (default 2 minutes). ``--source-file`` measures a
file made beforehand instead (the 30-minute one: bench/README.md says how it is made).

For each source and round, in alternating order (hand first in odd rounds):
  by hand   recordings.services.transcode.ffmpeg_command for the source's rendition plan, run
            with subprocess as a person would paste it (its progress output discarded);
  service   transcode_upload on a fresh pending Recording of the uploaded file: claim, ffprobe,
            the same ffmpeg command with its progress read and the lease extended, the thumbnail,
            storing the HLS files (FileSystemStorage in a temporary folder), the ready row.
            Django against a scratch PostgreSQL database (created if missing), the production
            settings (DEBUG off).
``--chunked N`` measures instead, on each source, the service's single pass against its chunked
path (recordings.services.chunked, pieces of N seconds) with two workers: this process (the video's
attempt) and a helper process taking pieces (``transcode_pieces``, as ``transcode_pieces_task``
would on a second worker), each run's load averages printed before and after.

The ratio is service / by hand, wall time (the issue's goal: <= 1.05). "cpu/s" is ffmpeg's CPU
time (user + system, the hand run's) per second of video, which a busy machine does not change:
on N idle cores the transcode takes about cpu/s / N seconds per second of video, so the
transcode's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT) fits about N / (cpu/s) times its length;
the default LIVESHOP_UPLOAD_MAX_DURATION_SECONDS keeps half of it in reserve (README).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench_transcode"
SOURCES = {"1080p": "1920x1080", "phone": "1080x1920"}


def make_source(path: Path, size: str, seconds: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path


def setup_django(db_url: str, media: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="liveshop.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_LOG_LEVEL="WARNING",
        DJANGO_MEDIA_ROOT=str(media),
        DATABASE_URL=db_url,
        DJANGO_DB_POOL="false",
        REDIS_URL="",
        VIDEO_BACKEND="fake",
        AWS_STORAGE_BUCKET_NAME="",
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


def pending_upload(source: Path):
    from django.core.files import File

    from accounts.models import Organization
    from recordings.models import Recording, new_media_prefix

    brand, _ = Organization.objects.get_or_create(slug="bench-transcode", defaults={"name": "Bench"})
    recording = Recording(organization=brand, backend=Recording.Backend.UPLOAD, title=source.stem)
    with source.open("rb") as content:
        recording.upload.save(source.name, File(content), save=False)
    recording.cdn_prefix = new_media_prefix(private=True)
    recording.status = Recording.Status.PENDING
    recording.save()
    return recording


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def by_hand(source: Path, work: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the service's ffmpeg command run by itself."""
    from liveshop import media
    from recordings.services import transcode

    info = media.probe(source)
    work.mkdir(parents=True)
    command = transcode.ffmpeg_command(source, work, transcode.rendition_plan(info), info)
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, children_cpu() - cpu


def by_service(source: Path) -> tuple[float, object]:
    from recordings.services.transcode import transcode_upload

    recording = pending_upload(source)
    started = time.perf_counter()
    done = transcode_upload(recording_id=recording.pk)
    elapsed = time.perf_counter() - started
    if done is None or done.status != "ready":
        sys.exit(f"The transcode did not finish: {getattr(done, 'failure_reason', 'deleted')}")
    return elapsed, done


def by_service_as(source: Path, *, chunked: bool) -> float:
    """The service's wall time with the chunked path forced on or off."""
    from django.conf import settings

    settings.LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS = 0 if chunked else 10**9
    elapsed, done = by_service(source)
    if chunked and not done.renditions[0]["playlist"]:
        sys.exit("no playlist")
    return elapsed


def helper_loop() -> None:
    """A second worker: take free pieces of any video being transcoded, until killed."""
    from recordings.models import Recording
    from recordings.services.chunked import transcode_pieces

    while True:
        for pk in Recording.objects.filter(status="processing").values_list("pk", flat=True):
            transcode_pieces(recording_id=pk)
        time.sleep(0.2)


def chunked_rows(args, scratch: Path) -> None:
    from django.conf import settings

    from liveshop import media

    settings.LIVESHOP_TRANSCODE_PIECE_SECONDS = args.chunked
    helper = subprocess.Popen(
        [sys.executable, __file__, "--helper", "--db-url", args.db_url, "--media", str(scratch / "media")]
    )
    try:
        rows = []
        for name, source in sources(args, scratch):
            seconds = media.probe(source).duration
            for round_ in range(args.rounds):
                order = (False, True) if round_ % 2 == 0 else (True, False)
                times = {}
                for chunked in order:
                    before = os.getloadavg()
                    times[chunked] = by_service_as(source, chunked=chunked)
                    after = os.getloadavg()
                    which = "chunked (2 workers)" if chunked else "single pass"
                    print(
                        f"  {name} round {round_ + 1}: {which} {times[chunked]:.1f} s; loadavg "
                        f"{' '.join(f'{x:.1f}' for x in before)} -> {' '.join(f'{x:.1f}' for x in after)}",
                        flush=True,
                    )
                rows.append((name, seconds, times[False], times[True]))
        print(
            f"\n{'source':8} {'seconds':>8} {'single':>9} {'chunked':>9} {'ratio':>6}"
            f"  (pieces of {args.chunked:g} s)"
        )
        for name, seconds, single, chunked in rows:
            print(f"{name:8} {seconds:8.1f} {single:8.1f}s {chunked:8.1f}s {chunked / single:6.2f}")
    finally:
        helper.terminate()
        helper.wait(timeout=30)


def sources(args, scratch: Path):
    """(name, path) of each source: --source-file's, or each of --sources made now."""
    if args.source_file:
        yield args.source_file.stem[:8], args.source_file
        return
    for name in args.sources.split(","):
        print(f"making the {name} source ({SOURCES[name]}, {args.seconds:.0f} s)...", flush=True)
        yield name, make_source(scratch / f"{name}.mp4", SOURCES[name], args.seconds)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--seconds", type=float, default=120, help="length of each source (default 120)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sources", default="1080p,phone", help=f"of {', '.join(SOURCES)}")
    parser.add_argument("--source-file", type=Path, help="measure this video instead of making sources")
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    parser.add_argument("--chunked", type=float, help="single pass vs chunked (pieces of this many s)")
    parser.add_argument("--helper", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--media", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.helper:
        setup_django(args.db_url, args.media)
        helper_loop()
        return

    with tempfile.TemporaryDirectory(prefix="liveshop-bench-transcode-") as scratch:
        scratch = Path(scratch)
        setup_django(args.db_url, scratch / "media")
        from django.conf import settings

        from liveshop import media

        if args.chunked:
            chunked_rows(args, scratch)
            return
        rows = []
        for name, source in sources(args, scratch):
            seconds = media.probe(source).duration
            hand, cpu, service, renditions = [], [], [], ""
            for round_ in range(args.rounds):
                order = ("hand", "service") if round_ % 2 == 0 else ("service", "hand")
                for which in order:
                    if which == "hand":
                        wall, used = by_hand(source, scratch / f"hand-{name}-{round_}")
                        hand.append(wall)
                        cpu.append(used)
                    else:
                        elapsed, done = by_service(source)
                        service.append(elapsed)
                        renditions = " ".join(r["resolution"] for r in done.renditions)
            h, s = statistics.median(hand), statistics.median(service)
            rows.append((name, renditions, h, s, s / h, statistics.median(cpu) / seconds))
            print(f"  {name}: by hand {h:.1f} s, service {s:.1f} s, ratio {s / h:.2f}", flush=True)

        print(f"\n{'source':8} {'renditions':30} {'by hand':>9} {'service':>9} {'ratio':>6} {'cpu/s':>6}")
        for name, renditions, h, s, ratio, per_second in rows:
            print(f"{name:8} {renditions:30} {h:8.1f}s {s:8.1f}s {ratio:6.2f} {per_second:6.2f}")
        soft, cores = settings.CELERY_TASK_SOFT_TIME_LIMIT, os.cpu_count() or 1
        fits = soft * cores / max(row[5] for row in rows)
        limit = settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS // 60
        print(
            f"\nloadavg {os.getloadavg()[0]:.1f}; on {cores} idle cores the soft time limit ({soft} s) "
            f"fits about {fits / 60:.0f} min of the costliest source; half: {fits / 120:.0f} min "
            f"(LIVESHOP_UPLOAD_MAX_DURATION_SECONDS: {limit} min)"
        )


if __name__ == "__main__":
    main()
