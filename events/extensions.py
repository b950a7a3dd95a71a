"""Extension points: how other apps plug into live events without events importing them.

The dependency runs one way: ``recordings`` depends on ``events``, never the reverse (the test
events/tests/test_app_dependencies.py walks events' sources and fails on any ``recordings``
import). Where events needs something recordings does, it calls one of the slots below, and
recordings fills them in ``RecordingsConfig.ready()`` (recordings/apps.py). A slot nobody filled
returns its default, so events works (and its unit tests run) without recordings.

Use these rather than importing recordings from events:
- ``recording_event(payload) -> str``: an "IVS Recording State Change" reached the stream-state
  handler (events.stream_state.handle_event); returns its outcome ("ignored" when unhandled).
- ``stream_session_created(session)``: a stream session was made late (its events came after
  its recording was ingested); recordings links the recordings that name it.
- ``local_recording_saved(path=..., stream_id=...)``: the local media server's recording was
  renamed off its key (after commit); recordings queues its conversion and ingestion.
- ``replay_url(event) -> str``: the ended event's replay page, "" while it has none (viewer page).
- ``event_recordings(event) -> Sequence``: every recording of the event, newest first (studio).
- ``public_replays(organization_id=None, limit=...) -> Sequence[dict]``: the newest replays anyone
  may watch (public ended events' and published videos'), as cards for the show lists
  (events.listings): title, brand, url, image, duration, when.
- ``recording_detail_limits() -> dict[str, int]``: the webhook's longest storable value of each
  recording detail field (events.webhooks.check_event_input), from recordings' columns.
- ``card_deals(event_id) -> dict[int, dict]``: the flash deals running in the event, by product
  id, as its product cards show them (events.payloads.card's ``deal``); commerce fills it
  (CommerceConfig.ready, commerce.deals.card_deals: one query).
- ``card_deal_probe(event_id, now) -> (sql, params) | None``: an SQL expression, true when a
  flash deal of the event may be running at ``now``; featuring reads it in its own state query
  and, when false, builds the card without calling ``card_deals`` (commerce.deals.card_deal_probe).

The viewer socket's features (chat fills these in ``ChatConfig.ready()``):
- ``async viewer_state(event_id) -> list[str]``: encoded frames sent right after each snapshot to
  a socket allowed to watch (a feature's state on join: the chat's recent messages).
- ``async viewer_frame(consumer, text: str)``: a JSON object (its text) the page sent on its
  socket; the feature answers on ``consumer`` (its ``send``, ``user()`` and ``event_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from django.utils.module_loading import import_string

P = ParamSpec("P")
R = TypeVar("R")


class Slot(Generic[P, R]):
    """One named extension point: calls the function filled in, else ``default``."""

    def __init__(self, name: str, default: Callable[P, R]) -> None:
        self.name = name
        self.default = default
        self.implementation: Callable[P, R] | str | None = None

    def __repr__(self) -> str:
        return f"<Slot {self.name}: {self.implementation or 'default'}>"

    def fill(self, implementation: Callable[P, R] | str) -> None:
        """Called from an AppConfig.ready(), with the function or its dotted path (imported on
        the first call, so ready() imports nothing heavy); filling it again replaces it."""
        self.implementation = implementation

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if isinstance(self.implementation, str):
            self.implementation = import_string(self.implementation)
        return (self.implementation or self.default)(*args, **kwargs)


def _ignored(payload: Any) -> str:
    return "ignored"


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


recording_event: Slot[[Any], str] = Slot("recording_event", _ignored)
stream_session_created: Slot[[Any], None] = Slot("stream_session_created", _nothing)
local_recording_saved: Slot[..., None] = Slot("local_recording_saved", _nothing)
replay_url: Slot[[Any], str] = Slot("replay_url", lambda event: "")
event_recordings: Slot[[Any], Any] = Slot("event_recordings", lambda event: ())
recording_detail_limits: Slot[[], dict[str, int]] = Slot("recording_detail_limits", dict)
public_replays: Slot[..., Any] = Slot("public_replays", lambda **kwargs: ())
card_deals: Slot[[int], dict[int, dict]] = Slot("card_deals", lambda event_id: {})
card_deal_probe: Slot[[int, Any], tuple[str, list] | None] = Slot(
    "card_deal_probe", lambda event_id, now: None
)


async def _no_frames(event_id: int) -> list[str]:
    return []


async def _ignore_frame(consumer: Any, text: str) -> None:
    return None


viewer_state: Slot[[int], Any] = Slot("viewer_state", _no_frames)
viewer_frame: Slot[[Any, str], Any] = Slot("viewer_frame", _ignore_frame)
