"""liveshop.media: the one ffprobe/ffmpeg toolkit, with real ffmpeg (probe, errors, the runner with
progress and what happens to ffmpeg when the caller gives up)."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction

import pytest

from liveshop import media
from liveshop.media import ffmpeg
from tests.media import media_test_video

pytestmark = pytest.mark.skipif(
    not media.installed(), reason="ffmpeg is not installed (apt-get install ffmpeg)"
)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return media_test_video(tmp_path_factory.mktemp("media") / "pattern.mp4", seconds=2)


def copy_command(source, target) -> list[str]:
    return ["ffmpeg", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1",
            "-i", str(source), "-c", "copy", str(target)]  # fmt: skip


def test_probe_describes_the_video_and_audio(video):
    info = media.probe(video)

    assert (info.video_codec, info.width, info.height, info.frame_rate) == ("h264", 320, 180, Fraction(30))
    assert (info.audio_codec, info.audio_profile, info.has_audio) == ("aac", "LC", True)
    assert info.duration == pytest.approx(2, abs=0.1) and info.duration_ms == pytest.approx(2000, abs=100)
    assert info.pix_fmt.startswith("yuv") and isinstance(info.video_level, int) and info.subtitle_codecs == ()


def test_probe_sizes_are_as_displayed_for_a_rotated_video(video, tmp_path):
    rotated = tmp_path / "portrait.mp4"
    rotate = ["-c", "copy", "-metadata:s:v:0", "rotate=90"]
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), *rotate, str(rotated)], check=True)

    info = media.probe(rotated)

    assert (info.width, info.height, abs(info.rotation)) == (180, 320, 90)


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"not a video\n", media.ToolFailed), (b"\x00" * 50_000, media.ToolFailed)],
)
def test_probe_refuses_what_is_not_a_video(tmp_path, content, error):
    path = tmp_path / "file.mp4"
    path.write_bytes(content)

    with pytest.raises(error) as caught:
        media.probe(path)
    assert caught.value.lines and caught.value.tool == "ffprobe"


def test_probe_refuses_audio_only_and_says_so(tmp_path):
    audio = tmp_path / "tone.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac", str(audio)],
        check=True,
    )

    with pytest.raises(media.NoVideoStream, match=r"tone\.m4a has no video stream"):
        media.probe(audio)


def test_a_missing_program_is_tool_missing(video, monkeypatch):
    monkeypatch.setattr(ffmpeg, "FFPROBE", "ffprobe-not-installed-here")

    with pytest.raises(media.ToolMissing, match="ffprobe-not-installed-here is not installed"):
        media.probe(video)


def test_run_with_progress_reports_output_time_and_failures_keep_ffmpegs_words(video, tmp_path):
    times = []
    media.run_with_progress(copy_command(video, tmp_path / "copy.mp4"), on_progress=times.append)

    assert times == sorted(times) and times[-1] == pytest.approx(2, abs=0.1)
    with pytest.raises(media.ToolFailed) as caught:
        media.run_with_progress(copy_command(tmp_path / "missing.mp4", tmp_path / "x.mp4"))
    assert caught.value.returncode != 0 and "No such file" in caught.value.last_line


def test_an_error_in_the_progress_callback_stops_ffmpeg_and_propagates(video, tmp_path, monkeypatch):
    started = []
    real_popen = subprocess.Popen

    class Recorded(real_popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    def give_up(seconds):
        raise RuntimeError("lease lost")

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    endless = ["ffmpeg", "-nostdin", "-v", "error", "-progress", "pipe:1", "-re", "-f", "lavfi",
               "-i", "testsrc", "-f", "null", "-"]  # fmt: skip

    with pytest.raises(RuntimeError, match="lease lost"):
        media.run_with_progress(endless, on_progress=give_up)
    assert started and all(process.poll() is not None for process in started)


def test_the_secret_is_masked_in_the_lines_kept(tmp_path):
    secret = "sk_us-west-2_abc/def"
    with pytest.raises(media.ToolFailed) as caught:
        media.run_with_progress(
            ["ffmpeg", "-nostdin", "-progress", "pipe:1", "-i", str(tmp_path / secret.replace("/", "_"))],
            secret=secret.replace("/", "_"),
        )
    assert (
        secret.replace("/", "_") not in " ".join(caught.value.lines) and media.MASK in caught.value.last_line
    )


def test_installed_looks_for_both_programs(monkeypatch, tmp_path):
    assert media.installed() == bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not media.installed()


# diagnose: the kind of problem, from ffmpeg's own words (lines recorded from ffmpeg 5/6) -----


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["[h264 @ 0x55e9dd53c280] Invalid NAL unit size (-673935851 > 4117).",
          "Error while decoding stream #0:0: Invalid data found when processing input"], "corrupt"),
        (["Decoder (codec none) not found for input stream #0:0"], "unsupported_codec"),
        (["[mov,mp4,m4a,3gp,3g2,mj2 @ 0x564d188afa00] stream 0, offset 0x180fe: partial file"], "truncated"),
        (["clip.webm: Invalid data found when processing input"], "not_media"),
        (["Unrecognized option 'hls_time x'."], "unknown"),
    ],
    ids=["corrupt", "unsupported", "partial", "invalid-data", "our-own-mistake"],
)  # fmt: skip
def test_diagnose_reads_ffmpegs_words_as_a_kind_of_problem(lines, problem):
    assert media.diagnose(media.ToolFailed("ffmpeg", 1, lines)) == problem


def test_diagnose_tells_a_cut_off_mp4_from_a_file_that_never_was_one(video, tmp_path):
    cut, garbage = tmp_path / "cut.mp4", tmp_path / "garbage.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # ffmpeg writes the index (moov) last
    garbage.write_bytes(b"\x00not a video" * 5000)
    problems = {}
    for path in (cut, garbage):
        with pytest.raises(media.ToolFailed) as failed:
            media.probe(path)
        problems[path.name] = media.diagnose(failed.value, path=path)
    assert problems == {"cut.mp4": "truncated", "garbage.mp4": "not_media"}


def test_diagnose_knows_sound_without_picture_and_the_servers_own_problems(tmp_path):
    tone = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", str(tone)], check=True)
    with pytest.raises(media.NoVideoStream) as no_video:
        media.probe(tone)
    assert no_video.value.has_audio and media.diagnose(no_video.value) == "no_video"
    assert media.diagnose(media.ToolMissing("ffmpeg")) == "not_installed"
    assert media.diagnose(media.TimedOut("ffprobe", 60)) == "timed_out"
