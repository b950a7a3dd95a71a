"""DISCOVERY_BACKEND=sagemaker: a SageMaker real-time endpoint finds the products. The only
module that builds a ``sagemaker-runtime`` client.

The endpoint's contract (what Liveshop sends and expects): the frame as a JPEG
(``ContentType: image/jpeg``), and JSON back: ``{"detections": [{"sku": "MUG-1", "score": 0.93,
"box": [x, y, width, height]}]}`` with the box as fractions of the frame. SKUs that are not among
the candidates (another brand's, unknown) are dropped."""

from __future__ import annotations

import json
import logging

import boto3
import cv2
import numpy as np
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from discovery.detectors.base import (
    Candidate,
    Detection,
    DetectorError,
    DetectorModelError,
    DetectorThrottled,
)

logger = logging.getLogger(__name__)

MAX_BODY = 6 * 1024 * 1024  # InvokeEndpoint's payload limit, in and out
THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ModelNotReadyException"}
JPEG_QUALITY = 85


class SageMakerDetector:
    def __init__(self, client=None, endpoint: str | None = None):
        self.endpoint = endpoint if endpoint is not None else settings.DISCOVERY_SAGEMAKER_ENDPOINT
        # The container must answer within 60 s; at 1 frame a second a late answer is useless,
        # so the socket gives up well before that and one retry covers a dropped connection.
        self.client = client or boto3.client(
            "sagemaker-runtime",
            region_name=settings.DISCOVERY_SAGEMAKER_REGION,
            config=Config(read_timeout=5, connect_timeout=3, retries={"max_attempts": 2, "mode": "standard"}),
        )

    def detect(
        self, frame: np.ndarray, *, organization_id: int, candidates: list[Candidate]
    ) -> list[Detection]:
        """Send the frame as JPEG; map the answer's SKUs to the candidates (the lineup's first)."""
        if not self.endpoint:
            raise DetectorError("SAGEMAKER_DISCOVERY_ENDPOINT is not set.")
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        body = encoded.tobytes() if ok else b""
        if not body or len(body) > MAX_BODY:
            raise DetectorError(f"The frame's JPEG is {len(body)} bytes; SageMaker takes 1 to {MAX_BODY}.")
        answer = self._invoke(body)
        return self._detections(answer, candidates)

    def _invoke(self, body: bytes) -> dict:
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint, Body=body, ContentType="image/jpeg", Accept="application/json"
            )
            data = response["Body"].read(MAX_BODY + 1)
        except ClientError as exc:
            raise _mapped(exc) from exc
        except BotoCoreError as exc:
            raise DetectorError(f"SageMaker could not be reached: {exc.__class__.__name__}.") from exc
        try:
            answer = json.loads(data)
        except ValueError:
            raise DetectorModelError("The endpoint did not answer JSON.") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("detections"), list):
            raise DetectorModelError('The endpoint\'s answer has no "detections" list.')
        return answer

    def _detections(self, answer: dict, candidates: list[Candidate]) -> list[Detection]:
        by_sku = {}
        for candidate in candidates:  # the lineup's product wins a SKU both would claim
            by_sku.setdefault(candidate.sku, candidate)
        found = []
        for row in answer["detections"]:
            candidate = by_sku.get(row.get("sku")) if isinstance(row, dict) else None
            box = _box(row.get("box")) if candidate else None
            score = row.get("score") if candidate else None
            if candidate is None or box is None or not isinstance(score, int | float):
                continue
            found.append(Detection(candidate.product_id, round(float(score), 3), box, candidate.in_lineup))
        return sorted(found, key=lambda d: (not d.in_lineup, -d.score))


def _box(value) -> tuple[float, float, float, float] | None:
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, int | float) for v in value):
        return None
    x, y, w, h = (min(1.0, max(0.0, float(v))) for v in value)
    return (round(x, 4), round(y, 4), round(w, 4), round(h, 4))


def _mapped(exc: ClientError) -> DetectorError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    logger.warning("SageMaker InvokeEndpoint failed", extra={"code": code})
    if code in THROTTLED:
        return DetectorThrottled(f"SageMaker is throttling or still loading the model ({code}).")
    if code == "ModelError":
        status = exc.response.get("OriginalStatusCode") or error.get("OriginalStatusCode") or "?"
        return DetectorModelError(f"The model failed on the frame (its container answered {status}).")
    if code == "ValidationError":
        return DetectorError(f"SageMaker refused the request: {error.get('Message', '')[:200]}")
    return DetectorError(f"SageMaker failed ({code or 'unknown error'}).")
