"""The OpenCV detector on generated frames: real product photos (GroceryStoreDataset) warped onto
busy backgrounds must be found with their box; frames without them must match nothing."""

import pytest

from discovery import synthetic
from discovery.detectors.base import Candidate
from discovery.detectors.local import CatalogueIndex, extract, frame_features, match

TRANSFORMS = [
    {"height_fraction": 0.6, "angle": 0, "perspective": 0.0},
    {"height_fraction": 0.45, "angle": 20, "perspective": 0.1},
    {"height_fraction": 0.5, "angle": -15, "perspective": 0.15, "blur": 1},
    {"height_fraction": 0.55, "angle": 8, "perspective": 0.1, "gain": 0.7},
    {"height_fraction": 0.6, "angle": -5, "perspective": 0.05, "occlusion": 0.3},
]


@pytest.fixture
def catalogue(photos):
    names = sorted(photos)
    return names, CatalogueIndex({i: extract(photos[name]) for i, name in enumerate(names)})


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_a_product_warped_onto_a_background_is_found_with_its_box(catalogue, photos, transform):
    names, index = catalogue
    for seed, name in enumerate(names):
        frame = synthetic.background(seed=seed)
        placed = synthetic.composite(frame, photos[name], seed=seed, **transform)
        found = match(index, frame_features(frame))
        assert [pid for pid, _, _ in found] == [names.index(name)], (name, transform, found)
        assert synthetic.box_overlap(found[0][2], placed.box) > 0.7


def test_a_frame_without_products_matches_nothing(catalogue):
    _, index = catalogue
    for seed in range(20):
        assert match(index, frame_features(synthetic.background(seed=100 + seed))) == []


def test_look_alikes_not_in_the_catalogue_match_nothing(catalogue, photos):
    _, index = catalogue
    for seed, name in enumerate(sorted(photos)):
        for fake in (synthetic.look_alike(photos[name]), synthetic.scrambled(photos[name], seed=seed)):
            frame = synthetic.background(seed=200 + seed)
            synthetic.composite(frame, fake, seed=seed, height_fraction=0.6)
            assert match(index, frame_features(frame)) == [], name


def test_two_products_in_one_frame_are_both_found(catalogue, photos):
    names, index = catalogue
    frame = synthetic.background(1280, 720, seed=7)
    left, right = frame[:, :640], frame[:, 640:]
    synthetic.composite(left, photos[names[0]], seed=1, height_fraction=0.5)
    synthetic.composite(right, photos[names[4]], seed=2, height_fraction=0.5)
    assert sorted(pid for pid, _, _ in match(index, frame_features(frame))) == [0, 4]


@pytest.mark.django_db
def test_the_lineup_is_matched_first_then_the_catalogue(local_detector, grocery, photos, brand):
    milk, juice = grocery["Arla-Standard-Milk"], grocery["Tropicana-Apple-Juice"]
    frame = synthetic.background(seed=3)
    synthetic.composite(frame, photos["Tropicana-Apple-Juice"], seed=3, height_fraction=0.6)
    lineup_only = [Candidate(milk.pk, milk.sku, True)]
    assert local_detector.detect(frame, organization_id=brand.pk, candidates=lineup_only) == []
    both = [Candidate(milk.pk, milk.sku, True), Candidate(juice.pk, juice.sku, False)]
    [found] = local_detector.detect(frame, organization_id=brand.pk, candidates=both)
    assert (found.product_id, found.in_lineup) == (juice.pk, False)
    assert 0 < found.score <= 1 and all(0 <= v <= 1 for v in found.box)
