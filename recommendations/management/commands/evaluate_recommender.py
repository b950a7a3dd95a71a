"""Offline evaluation of the local recommender against popularity, side by side: precision@k,
recall@k and NDCG@k on a time-ordered split of (a) the demo's planted looks and (b) interactions
shaped like the AWS Retail Demo Store's (its own users and catalogue), or (c) a brand's own."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recommendations import generator, learning
from recommendations.interactions import brand_interactions
from recommendations.management import brand_named

RETAIL_DEMO = Path(settings.BASE_DIR).parent / "shared" / "reference" / "upstream-data" / "retail-demo-store"


class Command(BaseCommand):
    help = "Compare the local recommender with popularity offline (precision, recall, NDCG at k)."

    def add_arguments(self, parser):
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--users", type=int, default=2000, help="Retail Demo Store users to simulate.")
        parser.add_argument(
            "--retail-demo", type=Path, default=RETAIL_DEMO, help="Its products.yaml and users."
        )
        parser.add_argument("--brand", help="Evaluate on this brand's own interactions instead.")

    def handle(self, *args, k, users, retail_demo, brand, **options):
        if not 1 <= k <= 100:
            raise CommandError("--k must be between 1 and 100.")
        if brand:
            organization = brand_named(brand)
            self.report(f"{organization.name}'s interactions", list(brand_interactions(organization)), k)
            return
        self.report("Demo looks (planted)", list(generator.planted([f"p{n}" for n in range(60)])), k)
        if not (retail_demo / "products.yaml").is_file():
            raise CommandError(f"No Retail Demo Store data in {retail_demo} (products.yaml, users.json.gz).")
        self.report("Retail Demo Store shape", list(generator.retail_demo(retail_demo, users=users)), k)

    def report(self, title: str, interactions: list, k: int) -> None:
        if len(interactions) < 10:
            raise CommandError(f"{title}: too few interactions to evaluate ({len(interactions)}).")
        started = time.perf_counter()
        train_set, test_set = learning.time_split(interactions)
        scores = learning.evaluate(train_set, test_set, k=k)
        model, baseline = scores["item-item"], scores["popularity"]
        self.stdout.write(
            f"\n{title}: {len(interactions)} interactions, {model.users} test users "
            f"({time.perf_counter() - started:.1f} s)"
        )
        self.stdout.write(f"  {'':12} {'item-item':>10} {'popularity':>11}")
        for metric in ("precision", "recall", "ndcg"):
            label = f"{metric}@{k}"
            self.stdout.write(
                f"  {label:12} {getattr(model, metric):10.4f} {getattr(baseline, metric):11.4f}"
            )
        self.stdout.write(
            "  item-item beats popularity on every metric: " + ("yes" if model.beats(baseline) else "NO")
        )
