"""JSON from outside (webhook bodies, the timeline editor, SRT cue text), read strictly.

``json.loads`` takes ``NaN`` and ``Infinity`` (not JSON, and no number a column can store) and
raises RecursionError, not ValueError, for deep nesting; callers that answer 400 on ValueError
then answer 500. ``loads`` turns all of these into JSONInputError, a ValueError with a reason."""

from __future__ import annotations

import json
from typing import Any

# Our inputs nest a few levels (an EventBridge event four, the editor's cue list three).
MAX_DEPTH = 16


class JSONInputError(ValueError):
    """Not JSON we accept; the message says why and is safe to show to the sender."""


def _refuse_constant(name: str) -> None:
    raise JSONInputError(f"{name} is not a JSON number")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value. Raises ValueError: json.JSONDecodeError (with its line and column) for
    text that is not JSON, JSONInputError for NaN/Infinity, nesting deeper than ``max_depth``
    or bytes that are not UTF-8."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise JSONInputError(f"nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError:
        raise JSONInputError("not UTF-8 text") from None
    if _depth_exceeds(value, max_depth):
        raise JSONInputError(f"nested more than {max_depth} levels deep")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when arrays/objects nest more than ``limit`` levels (iterative: no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
