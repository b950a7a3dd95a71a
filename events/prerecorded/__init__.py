"""Pre-recorded shows: stream a video file into an event as if it were live, featuring its
product cues as their moments play (``manage.py stream_video``), and prepare a video for that
(``manage.py preencode``). ffmpeg and ffprobe run through liveshop.media.

``stream_video`` (show.py) runs ffmpeg in real time (``-re``) with stream copy to the event's
ingest URL (RTMPS for IVS, RTMP for the local media server) and features each cue's product
through the same ``feature_product`` service the host console uses. Cues follow the *media*
clock (clock.py): ffmpeg reports its output time (``-progress``) ten times a second, and a cue
fires when the newest report, plus the wall time since it (at most MAX_EXTRAPOLATION), reaches
the cue's time. Each report re-anchors the clock, so cues cannot drift from the video however
long the show runs.

Looping uses ffmpeg's ``-stream_loop -1``: the output time keeps growing, and loop n plays cue c
at ``n * period + c``. The period is what ffmpeg adds per loop (its longest stream's length, e.g.
3.0186 s for a "3.000 s" mp4 whose last AAC frame runs over): measured beforehand with two quick
stream copies to the null muxer, since a container duration ~20 ms off per loop would add up to
seconds within an hour.

Errors are StreamingError (events.exceptions), with a message to show as is. The stream key is only ever
in the ffmpeg argument list: it is masked in every message, log line and shown command.
"""

from events.exceptions import StreamingError
from events.prerecorded.clock import MAX_EXTRAPOLATION, MediaClock, ScheduledCue, loop_period, schedule
from events.prerecorded.preencode import preencode
from events.prerecorded.show import (
    CueFired,
    StreamProgress,
    StreamResult,
    check_ready,
    default_host,
    stream_video,
)
from events.prerecorded.videos import probe, read_cues

__all__ = [
    "MAX_EXTRAPOLATION",
    "CueFired",
    "MediaClock",
    "ScheduledCue",
    "StreamProgress",
    "StreamResult",
    "StreamingError",
    "check_ready",
    "default_host",
    "loop_period",
    "preencode",
    "probe",
    "read_cues",
    "schedule",
    "stream_video",
]
