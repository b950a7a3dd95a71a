"""The recommender gateway: ``RECOMMENDER_BACKEND`` names the backend ("local", the default,
trained here; "personalize", Amazon Personalize), loaded at call time like the video gateway."""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from recommendations.backends.base import Recommender

BACKENDS = {
    "local": "recommendations.backends.local.LocalRecommender",
    "personalize": "recommendations.backends.personalize.PersonalizeRecommender",
}


@functools.cache
def get_recommender() -> Recommender:
    name = settings.RECOMMENDER_BACKEND
    return import_string(BACKENDS.get(name, name))()


__all__ = ["Recommender", "get_recommender"]
