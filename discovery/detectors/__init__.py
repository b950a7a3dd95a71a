"""The detector gateway: ``get_detector()`` returns the backend named by DISCOVERY_BACKEND."""

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from discovery.detectors.base import (
    Candidate,
    Detection,
    Detector,
    DetectorError,
    DetectorModelError,
    DetectorThrottled,
)

BACKENDS = {
    "local": "discovery.detectors.local.LocalDetector",
    "sagemaker": "discovery.detectors.sagemaker.SageMakerDetector",
    "fake": "discovery.detectors.fake.FakeDetector",
}

__all__ = [
    "Candidate",
    "Detection",
    "Detector",
    "DetectorError",
    "DetectorModelError",
    "DetectorThrottled",
    "get_detector",
]


@functools.cache
def get_detector() -> Detector:
    """The configured detector, built on first use; tests call ``get_detector.cache_clear()``."""
    name = settings.DISCOVERY_BACKEND
    return import_string(BACKENDS.get(name, name))()
