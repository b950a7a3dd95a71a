"""The JSON a replay or video page embeds for replay.js. Public fields only: no source bucket or
prefix, IVS session or stream id, failure reason or upload path ever goes in here."""

from __future__ import annotations

from catalog.models import Product
from events.payloads import card, tagged_buy_url
from recordings.models import ProductCue, Recording

# Buy links from replays and videos are told apart from live ones in the shop's analytics.
UTM_MEDIUM = "replay"


def media_time(ms: int) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour), as video players show time."""
    minutes, seconds = divmod(int(ms) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def duration_text(ms: int | None) -> str:
    """A length as players show it: to the nearest second (9.9 s is 0:10, not floored); "" when
    unknown."""
    return "" if ms is None else media_time(round(ms, -3))


def progress_payload(recording: Recording, *, thumbnail: str) -> dict:
    """A video's processing state for the studio's progress bars (``thumbnail``: its URL, signed
    where the CDN requires it)."""
    return {
        "id": recording.pk,
        "status": recording.status,
        "statusLabel": recording.get_status_display(),
        "progress": recording.progress,
        "failureReason": recording.failure_reason,
        "ready": recording.is_ready,
        "thumbnail": thumbnail,
        "durationMs": recording.duration_ms,
        "duration": duration_text(recording.duration_ms),
    }


def editor_product_payload(product: Product) -> dict:
    """A product as the timeline editor lists it."""
    image = product.thumbnail or product.image
    return {"id": product.pk, "name": product.name, "sku": product.sku, "image": image.url if image else ""}


def replay_buy_url(product: Product, *, campaign: str) -> str:
    """The product page tagged for attribution, like the live card's (events.payloads.buy_url)."""
    return tagged_buy_url(product, medium=UTM_MEDIUM, campaign=campaign)


def replay_card(product: Product, *, campaign: str) -> dict:
    """The live card's shape (events.payloads.card) with the replay's Buy link."""
    return card(product, buy_url=replay_buy_url(product, campaign=campaign))


def cue_payload(cue: ProductCue) -> dict:
    return {"id": cue.pk, "startMs": cue.start_ms, "endMs": cue.end_ms, "productId": cue.product_id}


def rendition_payload(recording: Recording, rendition: dict) -> dict:
    playlist = rendition.get("playlist")
    return {
        "name": rendition.get("name", ""),
        "resolution": rendition.get("resolution", ""),
        "width": rendition.get("width"),
        "height": rendition.get("height"),
        "bandwidth": rendition.get("bandwidth"),
        "url": recording.file_url(playlist) if playlist else "",
    }


def replay_payload(recording: Recording, cues: list[ProductCue], *, campaign: str) -> dict:
    """What replay.js plays and shows: the master playlist, renditions, cues and their cards."""
    cards = {}
    for cue in cues:
        cards.setdefault(cue.product_id, replay_card(cue.product, campaign=campaign))
    return {
        "recordingId": recording.pk,
        "title": recording.title or (recording.event.title if recording.event_id else ""),
        "durationMs": recording.duration_ms,
        "masterUrl": recording.master_url,
        "renditions": [rendition_payload(recording, r) for r in recording.renditions],
        "cues": [cue_payload(cue) for cue in cues],
        "products": list(cards.values()),
    }
