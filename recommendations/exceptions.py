class RecommenderError(Exception):
    """The recommender could not answer (the service falls back to popularity)."""


class RecommenderUnavailable(RecommenderError):
    """The backend is misconfigured or unreachable (no campaign, throttled, service error)."""
