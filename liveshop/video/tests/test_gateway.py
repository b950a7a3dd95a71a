"""The gateway as a whole: the setting picks the backend, and only ivs.py talks to IVS."""

import os
import re
from pathlib import Path

import pytest

from liveshop.video import get_video_backend
from liveshop.video.fake import FakeVideoBackend
from liveshop.video.ivs import IVSBackend

REPO = Path(__file__).resolve().parents[3]
IVS_MODULE = REPO / "liveshop" / "video" / "ivs.py"
# client("ivs"), client('ivs', ...), client(service_name="ivs"), resource(...): any boto3 IVS client.
IVS_CLIENT = re.compile(r"""\b(?:client|resource)\(\s*(?:service_name\s*=\s*)?["']ivs["']""")
SKIPPED_DIRS = {".venv", "venv", "node_modules", ".git", "migrations", "tests", "__pycache__"}


@pytest.fixture
def fresh_backend():
    get_video_backend.cache_clear()
    yield
    get_video_backend.cache_clear()


@pytest.mark.parametrize(
    ("setting", "backend_class"),
    [
        ("fake", FakeVideoBackend),
        ("ivs", IVSBackend),
        ("liveshop.video.fake.FakeVideoBackend", FakeVideoBackend),
    ],
)
def test_get_video_backend_honours_the_setting(settings, fresh_backend, setting, backend_class):
    settings.VIDEO_BACKEND = setting

    backend = get_video_backend()

    assert type(backend) is backend_class
    assert get_video_backend() is backend  # cached until cache_clear()


def test_building_the_ivs_backend_contacts_nothing(settings, fresh_backend):
    settings.VIDEO_BACKEND = "ivs"

    assert get_video_backend()._client is None


def _project_modules():
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py") and not name.startswith("test_") and name != "conftest.py":
                yield Path(root) / name


@pytest.mark.parametrize(
    ("source", "builds"),
    [
        ('boto3.client("ivs")', True),
        ("session.client('ivs', region_name=region)", True),
        ('boto3.client(\n    "ivs",\n)', True),
        ('boto3.client(service_name="ivs")', True),
        ('boto3.client("ivschat")', False),
        ('boto3.client("s3")', False),
    ],
)
def test_the_ivs_client_pattern_catches_the_ways_to_build_one(source, builds):
    assert bool(IVS_CLIENT.search(source)) is builds


def test_only_liveshop_video_ivs_builds_an_ivs_client():
    builders = {path for path in _project_modules() if IVS_CLIENT.search(path.read_text(encoding="utf-8"))}

    assert builders == {IVS_MODULE}, "Go through liveshop.video (get_video_backend, or ivs.ivs_client())."
