import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.tests.factories import OrganizationFactory
from catalog.models import Product
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "products.csv"
HEADER = "sku,name,description,price,currency,stock,external_url,active\n"


def run(*args, **options) -> str:
    """The command's stdout."""
    out = io.StringIO()
    call_command("import_products", *args, stdout=out, **options)
    return out.getvalue()


def test_import_command_prints_what_it_created_updated_and_left_alone(tmp_path):
    brand = OrganizationFactory(name="Glow Labs", slug="glow")
    ProductFactory(organization=brand, sku="A", name="Apron", price="10.00", currency="USD", stock=1)
    ProductFactory(organization=brand, sku="B", name="Bag", price="10.00", currency="USD", stock=1)
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(HEADER + "A,Apron,,10,USD,1,,yes\nB,Bag,,15,USD,1,,yes\nC,Cap,,5,USD,9,,yes\n")

    err = io.StringIO()

    out = run(str(csv_path), org="glow", stderr=err)

    assert out.strip() == "Imported products.csv into Glow Labs: 1 created, 1 updated, 1 unchanged."
    assert err.getvalue() == ""
    assert Product.objects.get(organization=brand, sku="C").variants.get().stock == 9


def test_import_command_lists_bad_rows_on_stderr_and_imports_nothing(tmp_path):
    OrganizationFactory(slug="glow")
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(HEADER + "A,Apron,,10,USD,1,,yes\nB,Bag,,ten,USD,1,,yes\nC,Cap,,5,ABC,1,,yes\n")

    err = io.StringIO()

    with pytest.raises(CommandError, match=r"products\.csv has errors .*; nothing was imported"):
        run(str(csv_path), org="glow", stderr=err)

    assert err.getvalue().splitlines() == [
        "line 3: price: Enter a number.",
        "line 4: currency: “ABC” is not an ISO 4217 currency code (e.g. USD, EUR).",
    ]
    assert not Product.objects.exists()


def test_import_command_rejects_an_unknown_brand(tmp_path):
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(HEADER)

    with pytest.raises(CommandError, match="There is no brand with the slug “nope”"):
        run(str(csv_path), org="nope")


def test_import_command_rejects_a_missing_file(tmp_path):
    OrganizationFactory(slug="glow")

    with pytest.raises(CommandError, match=r"Cannot read .*missing\.csv: No such file or directory"):
        run(str(tmp_path / "missing.csv"), org="glow")


def test_import_command_rejects_a_file_that_is_not_utf8(tmp_path):
    OrganizationFactory(slug="glow")
    csv_path = tmp_path / "products.csv"
    csv_path.write_bytes((HEADER + "A,Crème de jour,,10,EUR,1,,yes\n").encode("cp1252"))

    with pytest.raises(CommandError, match=r"products\.csv: The file is not UTF-8 text .*line 2"):
        run(str(csv_path), org="glow")

    assert not Product.objects.exists()


def test_import_command_imports_the_sample_file():
    brand = OrganizationFactory(slug="glow")

    out = run(str(SAMPLE), org="glow")

    assert "5 created, 0 updated, 0 unchanged" in out
    assert brand.products.count() == 5
