"""DISCOVERY_BACKEND=sagemaker with botocore's Stubber: the exact request, the answer mapped to
products by SKU (the lineup's first), and each error mapped to the gateway's own."""

import io
import json

import boto3
import cv2
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from discovery.detectors import DetectorError, DetectorModelError, DetectorThrottled
from discovery.detectors.base import Candidate
from discovery.detectors.sagemaker import SageMakerDetector

FRAME = np.full((360, 640, 3), 128, np.uint8)
JPEG = cv2.imencode(".jpg", FRAME, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()  # the exact body sent
CANDIDATES = [Candidate(1, "MUG-BLUE", True), Candidate(2, "TEE-RED", True), Candidate(3, "CAP", False)]


@pytest.fixture
def client():
    client = boto3.client(
        "sagemaker-runtime", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client


def body(data) -> StreamingBody:
    raw = json.dumps(data).encode() if not isinstance(data, bytes) else data
    return StreamingBody(io.BytesIO(raw), len(raw))


def expect(client, answer):
    client.stubber.add_response(
        "invoke_endpoint",
        {"Body": body(answer), "ContentType": "application/json"},
        {
            "EndpointName": "products-v1",
            "Body": JPEG,
            "ContentType": "image/jpeg",
            "Accept": "application/json",
        },
    )


def test_the_frame_goes_as_jpeg_and_skus_come_back_as_products(client):
    expect(
        client,
        {
            "detections": [
                {"sku": "CAP", "score": 0.99, "box": [0.5, 0.5, 0.2, 0.2]},
                {"sku": "MUG-BLUE", "score": 0.81, "box": [0.1, 0.2, 0.3, 0.4]},
                {"sku": "OTHER-BRAND", "score": 0.99, "box": [0, 0, 1, 1]},
                {"sku": "TEE-RED", "score": "high", "box": [0, 0, 1, 1]},
                {"sku": "TEE-RED", "score": 0.7, "box": [0, 0]},
            ]
        },
    )
    found = SageMakerDetector(client=client, endpoint="products-v1").detect(
        FRAME, organization_id=1, candidates=CANDIDATES
    )
    assert [(d.product_id, d.score, d.box, d.in_lineup) for d in found] == [
        (1, 0.81, (0.1, 0.2, 0.3, 0.4), True),
        (3, 0.99, (0.5, 0.5, 0.2, 0.2), False),
    ]
    client.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ModelError", 424, DetectorModelError),
        ("ModelNotReadyException", 429, DetectorThrottled),
        ("ThrottlingException", 400, DetectorThrottled),
        ("ValidationError", 400, DetectorError),
        ("ServiceUnavailable", 503, DetectorError),
    ],
)
def test_errors_are_mapped_to_the_gateways_own(client, code, status, error):
    client.stubber.add_client_error("invoke_endpoint", service_error_code=code, http_status_code=status,
                                    service_message="no")  # fmt: skip
    with pytest.raises(error) as raised:
        SageMakerDetector(client=client, endpoint="products-v1").detect(
            FRAME, organization_id=1, candidates=CANDIDATES
        )
    assert type(raised.value) is error


def test_an_answer_that_is_not_ours_is_a_model_error(client):
    expect(client, b"<html>oops</html>")
    with pytest.raises(DetectorModelError, match="JSON"):
        SageMakerDetector(client=client, endpoint="products-v1").detect(
            FRAME, organization_id=1, candidates=CANDIDATES
        )
    expect(client, {"labels": []})
    with pytest.raises(DetectorModelError, match="detections"):
        SageMakerDetector(client=client, endpoint="products-v1").detect(
            FRAME, organization_id=1, candidates=CANDIDATES
        )


def test_no_endpoint_is_a_clear_error(client):
    with pytest.raises(DetectorError, match="SAGEMAKER_DISCOVERY_ENDPOINT"):
        SageMakerDetector(client=client, endpoint="").detect(FRAME, organization_id=1, candidates=CANDIDATES)
