"""Amazon Personalize (``RECOMMENDER_BACKEND=personalize``): related products from a campaign
trained with a related-items recipe (``get_recommendations`` with the featured product's id,
filtered by ``PERSONALIZE_FILTER_ARN``, e.g. ``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN
("purchase")``), lineup ranking from a personalized-ranking campaign (``get_personalized_ranking``).
The only module that builds a Personalize client. Errors map to RecommenderUnavailable (the
service then falls back to popularity and logs a warning)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from recommendations.exceptions import RecommenderUnavailable

logger = logging.getLogger(__name__)

# A recommendation seconds late is a wrong one (the card has moved on): one retry, short timeouts.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=2,
    user_agent_extra="liveshop",
)  # fmt: skip
MAX_RESULTS = 500  # numResults and inputList (personalize-runtime's model)
MAX_ID = 256  # ITEM_ID / USER_ID


class PersonalizeRecommender:
    def __init__(self, client=None):
        self.client = client or boto3.client(
            "personalize-runtime", region_name=settings.PERSONALIZE_REGION, config=CLIENT_CONFIG
        )

    def related(self, *, organization_id: int, product_id: str, viewer: str | None, n: int) -> list[str]:
        campaign = settings.PERSONALIZE_RELATED_CAMPAIGN_ARN
        if not campaign:
            raise RecommenderUnavailable("PERSONALIZE_RELATED_CAMPAIGN_ARN is not set.")
        request = {
            "campaignArn": campaign,
            "itemId": _id(product_id),
            "numResults": min(max(n, 1), MAX_RESULTS),
        }
        if viewer:
            request["userId"] = _id(viewer)
            if settings.PERSONALIZE_FILTER_ARN:
                request["filterArn"] = settings.PERSONALIZE_FILTER_ARN
        answer = self._call("get_recommendations", request)
        return [entry["itemId"] for entry in answer.get("itemList", [])]

    def rank(self, *, organization_id: int, viewer: str, product_ids: list[str]) -> list[str]:
        campaign = settings.PERSONALIZE_RANKING_CAMPAIGN_ARN
        if not campaign:
            raise RecommenderUnavailable("PERSONALIZE_RANKING_CAMPAIGN_ARN is not set.")
        if not product_ids:
            return []
        request = {
            "campaignArn": campaign,
            "userId": _id(viewer),
            "inputList": [_id(item) for item in product_ids[:MAX_RESULTS]],
        }
        if settings.PERSONALIZE_FILTER_ARN:
            request["filterArn"] = settings.PERSONALIZE_FILTER_ARN
        answer = self._call("get_personalized_ranking", request)
        return [entry["itemId"] for entry in answer.get("personalizedRanking", [])]

    def _call(self, operation: str, request: dict) -> dict:
        try:
            return getattr(self.client, operation)(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            logger.warning(
                "Personalize %s failed: %s", operation, code, extra={"operation": operation, "code": code}
            )
            raise RecommenderUnavailable(
                f"Amazon Personalize refused {operation}: {code or 'error'}."
            ) from exc
        except BotoCoreError as exc:
            logger.warning("Personalize %s unreachable: %s", operation, type(exc).__name__)
            raise RecommenderUnavailable(f"Amazon Personalize could not be reached ({operation}).") from exc


def _id(value: str) -> str:
    if not value or len(value) > MAX_ID:
        raise RecommenderUnavailable(f"An id for Personalize must be 1-{MAX_ID} characters.")
    return value


EVENTS_PER_CALL = 10  # PutEvents' eventList (personalize-events' model)


class PersonalizeEvents:
    """``personalize-events`` PutEvents: new interactions streamed to the event tracker
    (``PERSONALIZE_TRACKING_ID``), so campaigns learn between dataset imports."""

    def __init__(self, client=None):
        self.client = client or boto3.client(
            "personalize-events", region_name=settings.PERSONALIZE_REGION, config=CLIENT_CONFIG
        )

    def put(self, interactions) -> int:
        """Send ``interactions`` (one person's calls grouped, <= 10 events each); how many went."""
        tracking = settings.PERSONALIZE_TRACKING_ID
        if not tracking:
            raise RecommenderUnavailable("PERSONALIZE_TRACKING_ID is not set.")
        by_person: dict[str, list] = {}
        for interaction in interactions:
            by_person.setdefault(interaction.user, []).append(interaction)
        sent = 0
        for person, theirs in by_person.items():
            for start in range(0, len(theirs), EVENTS_PER_CALL):
                batch = theirs[start : start + EVENTS_PER_CALL]
                request = {
                    "trackingId": tracking,
                    "userId": _id(person),
                    "sessionId": _id(person),
                    "eventList": [_event(interaction) for interaction in batch],
                }
                try:
                    self.client.put_events(**request)
                except (ClientError, BotoCoreError) as exc:
                    code = (
                        exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
                    )
                    logger.warning("Personalize put_events failed: %s", code or type(exc).__name__)
                    raise RecommenderUnavailable(
                        f"Amazon Personalize refused put_events: {code or 'error'}."
                    ) from exc
                sent += len(batch)
        return sent


def _event(interaction) -> dict:
    # A stable id: the same interaction sent twice (a retried task) is not learned twice.
    identity = f"{interaction.user}|{interaction.item}|{interaction.kind}|{interaction.at:.3f}"
    return {
        "eventId": hashlib.sha256(identity.encode()).hexdigest()[:40],
        "eventType": interaction.kind,
        "itemId": _id(interaction.item),
        "sentAt": datetime.fromtimestamp(interaction.at, tz=UTC),
    }
