"""CloudFront CreateInvalidation for AWS_CLOUDFRONT_DISTRIBUTION_ID: the only module that builds
a ``cloudfront`` client. The caller reference is a hash of the paths, so a retried task repeats
the same request (CloudFront answers it with the invalidation it already made) instead of
starting another; folders are never reused (random keys), so the same paths never mean new files."""

from __future__ import annotations

import hashlib
import logging
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from recordings.invalidation.base import CdnError, CdnThrottled

logger = logging.getLogger(__name__)

THROTTLED = {"TooManyInvalidationsInProgress", "Throttling", "ThrottlingException", "ServiceUnavailable"}


class CloudFrontCdnBackend:
    def __init__(self, distribution_id: str | None = None):
        self.distribution_id = distribution_id or settings.AWS_CLOUDFRONT_DISTRIBUTION_ID
        if not self.distribution_id:
            raise CdnError("LIVESHOP_CDN_BACKEND=cloudfront needs AWS_CLOUDFRONT_DISTRIBUTION_ID.")

    @cached_property
    def client(self):
        config = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="liveshop")
        return boto3.session.Session().client("cloudfront", config=config)

    def invalidate(self, paths: list[str]) -> str:
        paths = sorted(set(paths))
        reference = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:32]
        batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference}
        try:
            answer = self.client.create_invalidation(
                DistributionId=self.distribution_id, InvalidationBatch=batch
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            logger.warning("CloudFront refused an invalidation", extra={"code": code, "paths": paths})
            kind = CdnThrottled if code in THROTTLED else CdnError
            raise kind(f"CloudFront refused to invalidate {len(paths)} path(s) ({code}).") from exc
        except BotoCoreError as exc:
            raise CdnThrottled(f"CloudFront could not be reached ({type(exc).__name__}).") from exc
        invalidation = answer["Invalidation"]["Id"]
        logger.info("CDN invalidation", extra={"invalidation": invalidation, "paths": paths})
        return invalidation
