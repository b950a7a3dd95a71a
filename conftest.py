"""Wiring fixtures shared by every app's tests."""

import pytest


@pytest.fixture(autouse=True)
def _media_in_memory(settings):
    """Each test gets empty in-memory storages."""
    from django.core.files.storage import storages

    storages._storages = {}
    yield
    storages._storages = {}
