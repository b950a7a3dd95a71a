"""Interactions to evaluate the recommender on, generated with a fixed seed (no Django).

``planted``: what ``seed_demo`` writes for the demo brand: shoppers who each follow one or two
"looks" (products bought together), with popular products everybody clicks on the way.

``retail_demo``: the shape of the AWS Retail Demo Store's generated interactions, from its own
users and catalogue (reference/upstream-data/retail-demo-store): each user has a persona (the
categories they shop, e.g. ``furniture_homedecor_housewares``); sessions pick a persona category,
view products in it (popular products more often), and some views go on to the cart and a
purchase. Event types are the demo store's funnel (view, add to cart, purchase)."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from recommendations.learning import Interaction

DAY = 86400.0
START = 1_767_225_600.0  # 2026-01-01


def planted(
    items: Sequence[str], *, users: int = 300, look_size: int = 3, seed: int = 7
) -> Iterator[Interaction]:
    """Shoppers who each follow one or two looks of ``look_size`` items, bought over weeks; and a
    few popular items clicked by most. The item-item model should find the looks."""
    rng = random.Random(seed)
    items = list(items)
    popular, rest = items[:3], items[3:]
    looks = [rest[i : i + look_size] for i in range(0, len(rest) - look_size + 1, look_size)]
    for number in range(users):
        user = f"u{number}"
        at = START + rng.uniform(0, 30) * DAY
        for look in rng.sample(looks, k=min(len(looks), rng.choice((1, 1, 2)))):
            for item in rng.sample(look, k=len(look)):
                at += rng.uniform(0.5, 6) * DAY
                yield Interaction(user, item, at, "click")
                if rng.random() < 0.7:
                    yield Interaction(user, item, at + 60, "add_to_cart")
                    if rng.random() < 0.6:
                        yield Interaction(user, item, at + 300, "purchase")
        for item in popular:
            if rng.random() < 0.6:
                yield Interaction(user, item, START + rng.uniform(0, 90) * DAY, "click")


def retail_demo(
    directory: Path, *, users: int = 2000, sessions: tuple[int, int] = (4, 12), seed: int = 11
) -> Iterator[Interaction]:
    """Funnel interactions of ``users`` of the Retail Demo Store's users over its catalogue."""
    rng = random.Random(seed)
    by_category: dict[str, list[str]] = {}
    for product in yaml.safe_load((directory / "products.yaml").read_text()):
        by_category.setdefault(product["category"], []).append(str(product["id"]))
    with gzip.open(directory / "users.json.gz", "rt") as handle:
        people = json.load(handle)[:users]
    # Within a category some products sell more (a Zipf-like skew, like the demo's).
    weights = {
        category: [1 / (rank + 1) ** 0.8 for rank in range(len(ids))] for category, ids in by_category.items()
    }
    for person in people:
        categories = [c for c in person.get("persona", "").split("_") if c in by_category]
        if not categories:
            continue
        user = f"user{person['id']}"
        at = START + rng.uniform(0, 20) * DAY
        # Each user keeps returning to a few favourite products of their categories.
        favourites = {c: rng.choices(by_category[c], weights=weights[c], k=6) for c in categories}
        for _ in range(rng.randint(*sessions)):
            at += rng.uniform(0.2, 8) * DAY
            category = rng.choice(categories)
            for _ in range(rng.randint(1, 5)):
                if rng.random() < 0.6:
                    item = rng.choice(favourites[category])
                else:
                    item = rng.choices(by_category[category], weights=weights[category])[0]
                at += rng.uniform(10, 600)
                yield Interaction(user, item, at, "view")
                if rng.random() < 0.25:
                    yield Interaction(user, item, at + 30, "add_to_cart")
                    if rng.random() < 0.5:
                        yield Interaction(user, item, at + 120, "purchase")
