"""The local model learns who-chose-what-with-what and beats popularity offline (issue 18's goal),
on the demo's planted looks and on the Retail Demo Store's users and catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommendations import generator, learning
from recommendations.learning import Interaction, Model

RETAIL_DEMO = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "upstream-data" / "retail-demo-store"
)


def test_related_items_are_the_ones_chosen_together():
    interactions = []
    for user in range(6):
        interactions += [
            Interaction(f"u{user}", "mug", user, "purchase"),
            Interaction(f"u{user}", "tea", user, "click"),
        ]
    interactions += [Interaction(f"v{user}", "hat", user, "purchase") for user in range(9)]
    model = learning.train(interactions)
    assert model.related("mug", 1) == ["tea"]
    assert model.popular[0] == "hat"  # chosen by the most people
    assert "hat" not in [item for item, _ in model.neighbours["mug"]]


def test_cold_start_and_history_fall_back_to_popularity():
    interactions = [Interaction(f"u{n}", "hat", n, "click") for n in range(3)]
    interactions.append(Interaction("u9", "scarf", 1, "click"))
    model = learning.train(interactions)
    assert model.related("never-seen", 2) == ["hat", "scarf"]
    assert model.for_user([("hat", 1.0)], 5) == ["scarf"]  # never what they chose already


def test_impressions_teach_nothing():
    model = learning.train([Interaction("u1", "a", 1, "impression"), Interaction("u1", "b", 2, "impression")])
    assert model.neighbours == {} and model.popular == []


def test_the_model_survives_json():
    model = learning.train(generator.planted([f"p{n}" for n in range(12)], users=40))
    again = Model.from_json(model.to_json())
    assert again.related("p5", 3) == model.related("p5", 3)
    assert again.popular == model.popular


def test_progress_is_reported_to_the_end():
    seen = []
    learning.train(
        generator.planted([f"p{n}" for n in range(30)], users=50), progress=lambda d, t: seen.append((d, t))
    )
    assert seen and seen[-1][0] == seen[-1][1]


def _compare(interactions):
    train_set, test_set = learning.time_split(list(interactions))
    assert max(i.at for i in train_set) < min(i.at for i in test_set)  # no look into the future
    scores = learning.evaluate(train_set, test_set)
    assert scores["item-item"].users > 20
    return scores


def test_beats_popularity_on_the_demo_looks():
    scores = _compare(generator.planted([f"p{n}" for n in range(60)]))
    assert scores["item-item"].beats(scores["popularity"]), scores


@pytest.mark.skipif(not RETAIL_DEMO.is_dir(), reason="reference data not present")
def test_beats_popularity_on_the_retail_demo_store_shape():
    scores = _compare(generator.retail_demo(RETAIL_DEMO, users=600))
    assert scores["item-item"].beats(scores["popularity"]), scores
