"""RECOMMENDER_BACKEND=personalize: request shapes checked by botocore's Stubber against the real
personalize-runtime model; errors become RecommenderUnavailable (the service falls back)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from recommendations.backends.personalize import PersonalizeRecommender
from recommendations.exceptions import RecommenderUnavailable

RELATED = "arn:aws:personalize:us-west-2:123456789012:campaign/related"
RANKING = "arn:aws:personalize:us-west-2:123456789012:campaign/ranking"
FILTER = "arn:aws:personalize:us-west-2:123456789012:filter/not-bought"


@pytest.fixture
def personalize(settings):
    settings.PERSONALIZE_RELATED_CAMPAIGN_ARN = RELATED
    settings.PERSONALIZE_RANKING_CAMPAIGN_ARN = RANKING
    settings.PERSONALIZE_FILTER_ARN = FILTER
    client = boto3.client(
        "personalize-runtime", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield PersonalizeRecommender(client), stubber
        stubber.assert_no_pending_responses()


def test_related_items_for_a_signed_in_viewer_use_the_purchase_filter(personalize):
    backend, stubber = personalize
    stubber.add_response(
        "get_recommendations",
        {
            "itemList": [{"itemId": "12", "score": 0.4}, {"itemId": "7", "score": 0.2}],
            "recommendationId": "r1",
        },
        {"campaignArn": RELATED, "itemId": "3", "numResults": 24, "userId": "user:5", "filterArn": FILTER},
    )
    assert backend.related(organization_id=1, product_id="3", viewer="user:5", n=24) == ["12", "7"]


def test_anonymous_viewers_get_related_items_without_identity(personalize):
    backend, stubber = personalize
    stubber.add_response(
        "get_recommendations", {"itemList": []}, {"campaignArn": RELATED, "itemId": "3", "numResults": 6}
    )
    assert backend.related(organization_id=1, product_id="3", viewer=None, n=6) == []


def test_ranking_a_lineup(personalize):
    backend, stubber = personalize
    stubber.add_response(
        "get_personalized_ranking",
        {"personalizedRanking": [{"itemId": "9", "score": 0.7}, {"itemId": "4", "score": 0.3}]},
        {"campaignArn": RANKING, "userId": "user:5", "inputList": ["4", "9"], "filterArn": FILTER},
    )
    assert backend.rank(organization_id=1, viewer="user:5", product_ids=["4", "9"]) == ["9", "4"]


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "InvalidInputException", "ThrottlingException"]
)
def test_errors_become_unavailable(personalize, code, caplog):
    backend, stubber = personalize
    stubber.add_client_error("get_recommendations", service_error_code=code, http_status_code=400)
    with pytest.raises(RecommenderUnavailable, match=code):
        backend.related(organization_id=1, product_id="3", viewer=None, n=6)
    assert code in caplog.text


def test_no_campaign_is_unavailable_not_a_call(settings, personalize):
    backend, _ = personalize
    settings.PERSONALIZE_RELATED_CAMPAIGN_ARN = ""
    with pytest.raises(RecommenderUnavailable, match="not set"):
        backend.related(organization_id=1, product_id="3", viewer=None, n=6)


def test_ids_longer_than_personalize_takes_are_refused_before_the_call(personalize):
    backend, _ = personalize
    with pytest.raises(RecommenderUnavailable, match="1-256"):
        backend.related(organization_id=1, product_id="3" * 257, viewer=None, n=6)
