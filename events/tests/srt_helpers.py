"""What the SRT tests of events (parsing) and recordings (saving, the commands) share: the SKUs
their brand's products get (they must survive JSON and SRT) and SRT text builders."""

from __future__ import annotations

# Cue text that must survive JSON and SRT: quotes, backslashes, non-ASCII, spaces, "-->".
SKUS = ["TEE-01", 'MUG "XL"', "back\\slash", "ünïcode-☕", "two words", "a-->b"]


def cue_block(number: int, timing: str, text: str) -> str:
    return f"{number}\n{timing}\n{text}\n\n"


GOOD = cue_block(1, "00:00:01,000 --> 00:00:02,000", '{"sku": "TEE-01"}')


def as_tuples(cues) -> list[tuple[int, int, int | None]]:
    return [(cue.product.pk, cue.start_ms, cue.end_ms) for cue in cues]
