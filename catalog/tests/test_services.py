import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.exceptions import ImportFailed, ImportFileNotUtf8, RowError
from catalog.models import Product
from catalog.services import (
    ImportResult,
    attach_product_image,
    import_products_as_operator,
    remove_product_image,
)
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "products.csv"
HEADER = "sku,name,description,price,currency,stock,external_url,active\n"


def editor(product: Product):
    """Someone who may edit the product's catalogue (a host of its brand)."""
    return member(product.organization)


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def import_failure(organization, text: str) -> list[str]:
    with pytest.raises(ImportFailed) as failure:
        import_products_as_operator(organization=organization, rows=csv_file(text))
    return [str(error) for error in failure.value.errors]


# import_products


def test_import_products_creates_every_product_of_the_sample_file():
    brand = OrganizationFactory()

    with SAMPLE.open("rb") as file:
        result = import_products_as_operator(organization=brand, rows=file)

    assert result == ImportResult(created=5, updated=0, unchanged=0)
    serum = Product.objects.get(organization=brand, sku="GLOW-SERUM-50")
    assert serum.name == "Glow Vitamin C Serum 50 ml"
    assert serum.description == 'The 50 ml bottle, "salon size".'
    assert (serum.price, serum.currency, serum.variants.get().stock) == (Decimal("49.50"), "EUR", 45)
    assert serum.external_url == "https://shop.example.com/p/glow-serum-50"
    assert Product.objects.get(sku="SPF50-FLUID").description.endswith("\nWater resistant for 40 minutes.")
    assert Product.objects.get(sku="LIP-BALM-ROSE").currency == "EUR"
    assert Product.objects.get(sku="GIFT-SET-XMAS").is_active is False


def test_import_products_updates_by_sku_within_the_brand_and_counts_unchanged_rows():
    brand, other_brand = OrganizationFactory(), OrganizationFactory()
    same = ProductFactory(organization=brand, sku="SAME", name="Same", price=Decimal("10.00"), stock=3)
    dearer = ProductFactory(organization=brand, sku="DEARER", name="Dearer", price=Decimal("10.00"))
    theirs = ProductFactory(organization=other_brand, sku="NEW", name="Theirs", price=Decimal("1.00"))

    result = import_products_as_operator(
        organization=brand,
        rows=csv_file(
            HEADER
            + "SAME,Same,,10.0,USD,3,,yes\nDEARER,Dearer,,12.50,USD,10,,yes\nNEW,New thing,,5,USD,1,,yes\n"
        ),
    )

    assert result == ImportResult(created=1, updated=1, unchanged=1)
    dearer.refresh_from_db()
    assert dearer.price == Decimal("12.50")
    assert Product.objects.get(organization=brand, sku="NEW").name == "New thing"
    theirs.refresh_from_db()
    assert (theirs.name, theirs.price) == ("Theirs", Decimal("1.00"))
    same_before = same.updated_at
    same.refresh_from_db()
    assert same.updated_at == same_before


def test_import_products_twice_changes_nothing_the_second_time():
    brand = OrganizationFactory()
    with SAMPLE.open("rb") as file:
        import_products_as_operator(organization=brand, rows=file)

    with SAMPLE.open("rb") as file:
        result = import_products_as_operator(organization=brand, rows=file)

    assert result == ImportResult(created=0, updated=0, unchanged=5)


def test_import_products_keeps_current_values_for_left_out_columns_and_empty_stock():
    brand = OrganizationFactory()
    product = ProductFactory(
        organization=brand, sku="A", description="Keep me", stock=7, currency="GBP", is_active=False
    )

    result = import_products_as_operator(
        organization=brand, rows=csv_file("sku,name,price,stock\nA,Renamed,3.00,\n")
    )

    assert result.updated == 1
    product.refresh_from_db()
    assert (product.name, product.price) == ("Renamed", Decimal("3.00"))
    assert (product.description, product.variants.get().stock, product.currency, product.is_active) == (
        "Keep me",
        7,
        "GBP",
        False,
    )


def test_import_products_gives_new_products_the_defaults_for_left_out_columns():
    brand = OrganizationFactory()

    import_products_as_operator(organization=brand, rows=csv_file("sku,name,price\nA,Apron,20\n"))

    product = Product.objects.get(organization=brand, sku="A")
    assert (product.currency, product.variants.get().stock, product.is_active) == ("USD", 0, True)


def test_import_products_reports_every_bad_row_with_its_line_and_writes_nothing():
    brand = OrganizationFactory()
    existing = ProductFactory(organization=brand, sku="OK-1", name="Old name")
    text = (
        HEADER
        + "OK-1,New name,,10,USD,1,,yes\n"  # line 2: valid, but must not be written
        + 'OK-2,Two lines,"first\nsecond",10,USD,1,,yes\n'  # lines 3-4: valid
        + "BAD-PRICE,Hat,,ten,USD,1,,yes\n"  # line 5
        + "BAD-CURRENCY,Hat,,10,XYZ,1,,yes\n"  # line 6
        + "BAD-STOCK,Hat,,10,USD,-1,,yes\n"  # line 7
        + f"{'S' * 65},Hat,,10,USD,1,,yes\n"  # line 8
        + "BAD-MANY,,,-2,USD,1,not a url,maybe\n"  # line 9
        + "SHORT,Hat,10\n"  # line 10
    )

    errors = import_failure(brand, text)

    assert errors == [
        "line 5: price: Enter a number.",
        "line 6: currency: “XYZ” is not an ISO 4217 currency code (e.g. USD, EUR).",
        "line 7: stock: Ensure this value is greater than or equal to 0.",
        "line 8: sku: Ensure this value has at most 64 characters (it has 65).",
        "line 9: name: This field is required.",
        "line 9: price: Ensure this value is greater than or equal to 0.",
        "line 9: external_url: Enter a web address starting with http:// or https://.",
        "line 9: active: Enter yes or no (or true/false, 1/0).",
        "line 10: expected 8 cells, found 3.",
    ]
    assert Product.objects.count() == 1
    existing.refresh_from_db()
    assert existing.name == "Old name"


def test_import_products_refuses_a_product_page_that_is_not_http_or_https_by_line():
    brand = OrganizationFactory()
    text = (
        HEADER
        + "OK,Apron,,10,USD,1,https://shop.example.com/apron,yes\n"
        + "JS,Bag,,10,USD,1,javascript:alert(1),yes\n"
        + "FTP,Cap,,10,USD,1,ftp://shop.example.com/cap,yes\n"
    )

    errors = import_failure(brand, text)

    assert errors == [
        "line 3: external_url: Enter a web address starting with http:// or https://.",
        "line 4: external_url: Enter a web address starting with http:// or https://.",
    ]
    assert not Product.objects.exists()


def test_import_products_reports_a_duplicate_sku_with_both_line_numbers():
    brand = OrganizationFactory()
    text = HEADER + "A,Apron,,10,USD,1,,yes\nB,Bag,,10,USD,1,,yes\nA,Apron again,,12,USD,1,,yes\n"

    errors = import_failure(brand, text)

    assert errors == ["line 4: sku: “A” is on line 2 and line 4."]
    assert not Product.objects.exists()


def test_import_products_rejects_unknown_and_missing_columns_on_line_1():
    brand = OrganizationFactory()

    errors = import_failure(brand, "sku,name,colour\nA,Apron,red\n")

    assert errors == [
        "line 1: unknown column “colour” (the columns are: sku, name, description, price, currency, "
        "stock, external_url, active, external_id, variant, variant_sku, variant_price).",
        "line 1: missing column “price”.",
    ]


def test_import_products_rejects_an_empty_file():
    errors = import_failure(OrganizationFactory(), "")

    assert len(errors) == 1
    assert errors[0].startswith("line 1: the file is empty")


def test_import_products_rejects_a_file_that_is_not_utf8():
    brand = OrganizationFactory()
    latin1 = (HEADER + "A,Crème,,10,EUR,1,,yes\n").encode("latin-1")

    with pytest.raises(ImportFileNotUtf8, match="byte 0xe8 on line 2"):
        import_products_as_operator(organization=brand, rows=io.BytesIO(latin1))
    assert not Product.objects.exists()


def test_import_products_reads_a_byte_order_mark_and_upper_case_headers():
    brand = OrganizationFactory()

    import_products_as_operator(
        organization=brand, rows=io.BytesIO("\ufeffSKU,Name,Price\nA,Apron,9.99\n".encode())
    )

    assert Product.objects.get(organization=brand, sku="A").price == Decimal("9.99")


def test_import_products_accepts_dicts_numbering_them_from_line_2():
    brand = OrganizationFactory()
    rows = [
        {"sku": "A", "name": "Apron", "price": Decimal("10"), "stock": 4, "active": True},
        {"sku": "B", "name": "Bag", "price": "cheap"},
        {"sku": "C", "name": "Cap", "price": "1", "colour": "red"},
    ]

    with pytest.raises(ImportFailed) as failure:
        import_products_as_operator(organization=brand, rows=rows)

    assert failure.value.errors == [
        RowError(3, "price: Enter a number."),
        RowError(
            4,
            "unknown column “colour” (the columns are: sku, name, description, price, currency, "
            "stock, external_url, active, external_id, variant, variant_sku, variant_price).",
        ),
    ]
    assert import_products_as_operator(organization=brand, rows=rows[:1]) == ImportResult(created=1)


# attach_product_image / remove_product_image


def test_attach_product_image_stores_the_image_its_size_and_a_thumbnail(make_image):
    product = ProductFactory()

    attach_product_image(
        product=product, content=make_image(size=(800, 400)), filename="sku.png", by=editor(product)
    )

    # Read the stored columns: refresh_from_db() would recompute them from the file.
    assert Product.objects.filter(pk=product.pk).values_list("image_width", "image_height").get() == (
        800,
        400,
    )
    product.refresh_from_db()
    assert product.image.name.startswith(f"products/{product.organization_id}/sku")
    assert product.image.name.endswith(".png")
    with product.thumbnail.open() as stored, Image.open(stored) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("WEBP", (320, 160))


def test_attach_product_image_accepts_an_uploaded_file_and_keeps_transparency(make_image):
    product = ProductFactory()
    upload = SimpleUploadedFile("Cap Photo.PNG", make_image(size=(100, 1000), mode="RGBA"))

    attach_product_image(product=product, content=upload, filename=upload.name, by=editor(product))

    assert product.image.name.rsplit("/", 1)[-1].startswith("Cap-Photo")
    with product.thumbnail.open() as stored, Image.open(stored) as thumbnail:
        assert thumbnail.size == (32, 320)
        assert thumbnail.mode == "RGBA"


def test_attach_product_image_names_the_file_after_its_real_format(make_image):
    product = ProductFactory()

    attach_product_image(
        product=product, content=make_image(fmt="JPEG"), filename="photo.png", by=editor(product)
    )

    assert product.image.name.endswith(".jpg")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7 not a picture", "“manual.png” is not an image Liveshop can read"),
        ("png-truncated", "“manual.png” is not an image Liveshop can read"),
        ("bmp", "“manual.png” is a BMP image; upload a PNG, JPEG, WebP or GIF file."),
    ],
)
def test_attach_product_image_rejects_what_is_not_a_supported_image(make_image, content, message):
    product = ProductFactory()
    if content == "png-truncated":
        content = make_image()[:100]
    elif content == "bmp":
        content = make_image(fmt="BMP")

    with pytest.raises(ValidationError, match=message):
        attach_product_image(product=product, content=content, filename="manual.png", by=editor(product))

    product.refresh_from_db()
    assert not product.image
    assert not product.thumbnail


def test_attach_product_image_deletes_the_replaced_files_after_commit(
    make_image, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    attach_product_image(product=product, content=make_image(), filename="first.png", by=editor(product))
    first_image, first_thumbnail = product.image.name, product.thumbnail.name
    storage = product.image.storage

    with django_capture_on_commit_callbacks(execute=True):
        attach_product_image(product=product, content=make_image(), filename="second.png", by=editor(product))
        assert storage.exists(first_image)

    assert not storage.exists(first_image)
    assert not storage.exists(first_thumbnail)
    assert storage.exists(product.image.name)
    assert storage.exists(product.thumbnail.name)


def test_remove_product_image_clears_image_size_and_thumbnail(make_image, django_capture_on_commit_callbacks):
    product = ProductFactory()
    attach_product_image(product=product, content=make_image(), filename="sku.png", by=editor(product))
    image_name = product.image.name

    with django_capture_on_commit_callbacks(execute=True):
        remove_product_image(product=product, by=editor(product))

    product.refresh_from_db()
    assert (product.image.name, product.thumbnail.name) == ("", "")
    assert (product.image_width, product.image_height) == (None, None)
    assert not product.image.storage.exists(image_name)


@pytest.mark.parametrize("role", [None, Membership.Role.MODERATOR])
def test_only_the_brands_catalogue_editors_change_a_product_image(make_image, role):
    product = ProductFactory()
    someone = member(product.organization, role) if role else member(OrganizationFactory())

    with pytest.raises(PermissionDenied):
        attach_product_image(product=product, content=make_image(), filename="sku.png", by=someone)
    attach_product_image(product=product, content=make_image(), filename="sku.png", by=editor(product))
    with pytest.raises(PermissionDenied):
        remove_product_image(product=product, by=someone)

    product.refresh_from_db()
    assert product.image and product.thumbnail


def test_import_products_sets_and_keeps_external_ids():
    brand = OrganizationFactory()
    uuid = "6579c22f-be2b-444c-a52b-0116dd82df6c"
    import_products_as_operator(
        organization=brand, rows=csv_file(f"sku,name,price,external_id\nA,Apron,10,{uuid}\nB,Bag,5,\n")
    )

    assert dict(Product.objects.values_list("sku", "external_id")) == {"A": uuid, "B": ""}
    # The external_id column left out:
    import_products_as_operator(organization=brand, rows=csv_file("sku,name,price\nA,Apron,11\n"))
    assert Product.objects.get(sku="A").external_id == uuid


def test_import_products_allows_the_same_external_id_in_two_brands():
    uuid = "6579c22f-be2b-444c-a52b-0116dd82df6c"
    for brand in (OrganizationFactory(), OrganizationFactory()):
        import_products_as_operator(
            organization=brand, rows=csv_file(f"sku,name,price,external_id\nA,Apron,10,{uuid}\n")
        )

    assert Product.objects.filter(external_id=uuid).count() == 2


def test_import_products_reports_external_ids_used_twice_or_held_by_another_product():
    brand = OrganizationFactory()
    ProductFactory(organization=brand, sku="OLD", external_id="ext-9")
    text = "sku,name,price,external_id\nA,Apron,10,ext-1\nB,Bag,10,ext-1\nC,Cap,10,ext-9\n"

    errors = import_failure(brand, text)

    assert errors == [
        "line 3: external_id: “ext-1” is on line 2 and line 3.",
        "line 4: external_id: “ext-9” belongs to the product with SKU “OLD”.",
    ]
    assert list(Product.objects.values_list("sku", flat=True)) == ["OLD"]


def test_external_id_is_unique_per_brand_but_may_be_empty_on_many():
    brand = OrganizationFactory()
    ProductFactory(organization=brand, sku="A", external_id="")
    ProductFactory(organization=brand, sku="B", external_id="")
    ProductFactory(organization=brand, sku="C", external_id="ext-1")

    with pytest.raises(ValidationError, match="external id"):
        Product(organization=brand, sku="D", name="D", price=1, external_id="ext-1").full_clean()
