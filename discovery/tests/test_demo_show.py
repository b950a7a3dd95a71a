"""The demo show (`make demo`) shows each product's own image while its cue is on, so the
detector recognises demo products in it (and the host console suggests them)."""

import shutil

import cv2
import pytest
from django.core.files.base import ContentFile

from catalog.tests.factories import ProductFactory
from demo.brand import DEMO_PRODUCTS, product_card_png
from demo.show import demo_video_path, write_demo_video
from discovery.detectors.local import CatalogueIndex, decode_image, extract, frame_features, match
from discovery.sampler import frame_size

pytestmark = [pytest.mark.django_db, pytest.mark.media]
N = 4  # of the eight: each costs 2 s of video drawn by ffmpeg


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed (apt-get install ffmpeg)")
def test_the_demo_show_shows_each_product_image_during_its_cue(tmp_path, brand, settings):
    products = []
    for demo in DEMO_PRODUCTS[:N]:
        product = ProductFactory(organization=brand, name=demo.name, sku=demo.sku)
        product.image.save(
            f"{demo.sku}.png", ContentFile(product_card_png(demo.name, demo.colors)), save=True
        )
        products.append(product)
    path = demo_video_path(tmp_path, products)
    cues = write_demo_video(path, products, title="Demo", per_product_ms=2_000)
    index = CatalogueIndex({p.pk: extract(decode_image(p.image.open("rb").read())) for p in products})
    video = cv2.VideoCapture(str(path))
    seen = []
    for cue in cues:
        video.set(cv2.CAP_PROP_POS_MSEC, (cue.start_ms + cue.end_ms) / 2)
        ok, frame = video.read()
        assert ok
        frame = cv2.resize(frame, frame_size(settings.DISCOVERY_FRAME_WIDTH), interpolation=cv2.INTER_AREA)
        seen.append([pid for pid, _, _ in match(index, frame_features(frame))])
    video.release()
    # Each product found during its own cue, and nothing else: the demo's cards carry a landscape
    # drawn from the product's name (demo.brand), corners spread over the card. On text alone on
    # a gradient (the cards before), 1 of these 3 was found.
    assert seen == [[product.pk] for product in products]
