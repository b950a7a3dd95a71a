import io

import pytest
from PIL import Image


def image_bytes(size=(800, 400), fmt="PNG", mode="RGB") -> bytes:
    out = io.BytesIO()
    color = (0, 128, 128, 96) if mode == "RGBA" else "teal"  # half-transparent where it can be
    Image.new(mode, size, color=color).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def make_image():
    """Bytes of a real image: make_image(size=(w, h), fmt="PNG"|"JPEG"|..., mode="RGB"|"RGBA")."""
    return image_bytes
