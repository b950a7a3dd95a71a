"""IVS Chat's message review handler (an AWS Lambda, Python 3.11, standard library only): IVS
Chat calls it for every message of a Liveshop room (CreateRoom's messageReviewHandler, with
fallbackResult DENY); it forwards the review input to Liveshop (chat/hooks.py), which runs the
same checks as every other way of posting (chat.services.post_message) and stores the message,
and returns Liveshop's answer: {ReviewResult: ALLOW|DENY, Content, Attributes}.

Environment: LIVESHOP_REVIEW_URL (https://<site>/hooks/ivschat/review/) and
LIVESHOP_WEBHOOK_SECRET. IVS Chat allows the handler 200 ms, so Liveshop gets TIMEOUT_S; any
failure (timeout, an error, a wrong answer) is DENY, as the room's fallback would be."""

from __future__ import annotations

import json
import logging
import os
import urllib.request

TIMEOUT_S = 0.15
DENY = {"ReviewResult": "DENY", "Attributes": {"Reason": "unavailable"}}

logger = logging.getLogger()


def handler(event, context=None):
    url = os.environ["LIVESHOP_REVIEW_URL"]
    if not url.startswith(("https://", "http://")):
        raise ValueError("LIVESHOP_REVIEW_URL is an http(s) URL.")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=json.dumps(event).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Liveshop-Webhook-Secret": os.environ["LIVESHOP_WEBHOOK_SECRET"],
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            answer = json.loads(response.read())
    except Exception as exc:  # never the message or the secret in the log: the room and the error
        logger.warning("Review failed for room %s: %s", event.get("RoomArn", "?"), type(exc).__name__)
        return DENY
    if not isinstance(answer, dict) or answer.get("ReviewResult") not in ("ALLOW", "DENY"):
        return DENY
    return answer
