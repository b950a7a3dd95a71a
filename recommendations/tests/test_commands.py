"""train_recommender, evaluate_recommender and export_interactions as an operator runs them."""

from __future__ import annotations

import csv
import io

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory
from recommendations.models import TrainedModel
from recommendations.tests.test_services import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def bought(brand, settings):
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    mug, tea = ProductFactory(organization=brand, name="mug"), ProductFactory(organization=brand, name="tea")
    buyer = UserFactory(is_staff=False)
    buy(buyer, mug, tea)
    return buyer, mug, tea


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_train_shows_progress_and_what_it_learned(brand, bought):
    out, err = run("train_recommender", "--brand", brand.slug)
    assert "learned from 2 interactions, related products for 2 products" in out
    assert "2/2 products (100%)" in err
    assert TrainedModel.objects.get(organization=brand).products == 2


def test_unknown_brand_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="No brand has the slug 'nope'"):
        run("train_recommender", "--brand", "nope")
    with pytest.raises(CommandError, match="No brand"):
        run("export_interactions", "nope", str(tmp_path / "x.csv"))


def test_evaluate_prints_both_side_by_side():
    out, _ = run("evaluate_recommender", "--users", "300")
    assert out.count("item-item beats popularity on every metric: yes") == 2
    assert "precision@10" in out and "ndcg@10" in out


def test_export_writes_personalizes_interactions_csv(brand, bought, tmp_path):
    buyer, mug, tea = bought
    target = tmp_path / "interactions.csv"
    out, _ = run("export_interactions", brand.slug, str(target))
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
    assert sorted(rows[1:]) == sorted(
        [[f"user:{buyer.pk}", str(product.pk), rows[1][2], "purchase"] for product in (mug, tea)]
    )
    assert rows[1][2].isdigit()  # epoch seconds
    assert "Wrote 2 interactions" in out


@mock_aws
def test_export_to_s3(brand, bought):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="datasets")
    run("export_interactions", brand.slug, "s3://datasets/liveshop/interactions.csv")
    body = s3.get_object(Bucket="datasets", Key="liveshop/interactions.csv")["Body"].read().decode()
    assert body.startswith("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n") and body.count("\n") == 3


def test_an_unwritable_destination_is_a_command_error(brand, bought):
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_interactions", brand.slug, "/nonexistent-dir/x.csv")
    with pytest.raises(CommandError, match=r"s3://bucket/key\.csv"):
        run("export_interactions", brand.slug, "s3://only-bucket")
