import pytest


@pytest.fixture(autouse=True)
def _fresh_recommender(settings):
    """The local backend, with no model cached in this process from another test."""
    from recommendations import views
    from recommendations.backends import get_recommender

    settings.RECOMMENDER_BACKEND = "local"
    get_recommender.cache_clear()
    views.forget_shared()
    yield
    get_recommender.cache_clear()
    views.forget_shared()
