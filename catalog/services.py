"""Writes to the catalogue: one function per use case. A service that takes ``by`` checks it
(accounts.permissions.require); import_products_as_operator is for manage.py and the demo seed
alone (whoever runs them may change any brand)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.forms.models import model_to_dict

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from catalog import images, variants
from catalog.exceptions import ImportFailed, ImportFileNotUtf8, RowError
from catalog.forms import (
    IMPORT_COLUMNS,
    KEEP_IF_EMPTY_COLUMNS,
    REQUIRED_IMPORT_COLUMNS,
    STOCK_COLUMN,
    ProductImportForm,
)
from catalog.models import Product, Variant

Row = tuple[int, Mapping[str, Any]]  # (line in the file, column -> cell)
FIELD_COLUMNS = {field: column for column, field in IMPORT_COLUMNS.items()}


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@transaction.atomic
def import_products_as_operator(
    *, organization: Organization, rows: Iterable[Mapping[str, Any]] | IO[str] | IO[bytes]
) -> ImportResult:
    """Create or update the brand's products by SKU from a CSV file (text or UTF-8 bytes) or from
    dicts keyed by column (the first is line 2). All rows or nothing: any bad row raises
    ImportFailed listing every problem by line, before anything is written. Locks the brand's
    products named in the file. Idempotent: importing the same file again changes nothing."""
    parsed, errors = _read_rows(rows)
    skus = [_cell(row, "sku") for _, row in parsed]
    existing = {
        product.sku: product
        for product in Product.objects.select_for_update().filter(organization=organization, sku__in=skus)
    }
    errors += _duplicate_sku_errors(parsed)
    errors += _variant_sku_errors(parsed, organization)
    errors += _external_id_errors(parsed, organization)
    forms, first_rows, stocks = [], {}, {}
    # A product's own row (no variant) first, so that its columns are the ones its variants match.
    for line, row in sorted(parsed, key=lambda item: bool(variants.variant_label(item[1]))):
        sku = _cell(row, "sku")
        if sku in first_rows:  # another variant of a product already read: its columns must agree
            errors += _disagreements(line, row, first_rows[sku])
            continue
        first_rows[sku] = (line, row)
        product = existing.get(sku) or Product(organization=organization)
        before = model_to_dict(product, fields=ProductImportForm._meta.fields)
        form = ProductImportForm(_form_data(_product_cells(row), product), instance=product)
        if form.is_valid():
            forms.append((form.instance, before))
        errors += [RowError(line, reason) for reason in _reasons(form)]
        stocks[sku], problems = variants.default_variant_stock(line, row)
        errors += problems
    variant_forms, variant_problems = _variant_forms(parsed, existing, organization)
    errors += variant_problems
    if errors:
        raise ImportFailed(errors)
    restocked = _restocked(existing, stocks)
    result = _save(forms, restocked=restocked)
    _save_variants(forms, variant_forms, stocks)
    # Viewers hear of the existing products whose stock the file changed (new ones are on no page).
    changed = restocked | {sku for sku, form in variant_forms if "stock" in form.changed_data}
    variants.stock_changed_on_commit(existing[sku].pk for sku in changed if sku in existing)
    return result


def _product_cells(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's product columns: its stock is a variant's (the default one's on a plain row)."""
    skipped = {*variants.VARIANT_COLUMNS, STOCK_COLUMN}
    return {column: value for column, value in row.items() if column not in skipped}


def _disagreements(line: int, row: Mapping[str, Any], first: Row) -> list[RowError]:
    first_line, first_row = first
    if not variants.variant_label(row):
        return []  # a duplicate product row: _duplicate_sku_errors reports it
    return [
        RowError(line, f"{column}: differs from line {first_line} (a product's variants share its columns).")
        for column, cell in _product_cells(row).items()
        if _cell(row, column) and _cell(row, column) != _cell(first_row, column)
    ]


def _variant_forms(parsed: list[Row], existing: dict[str, Product], organization: Organization):
    """A bound, valid form per row with a variant, and the problems of the others (variant SKUs
    used twice in the file or held by another product of the brand)."""
    rows = [(line, row) for line, row in parsed if variants.variant_label(row)]
    wanted = [_cell(row, "variant_sku") for _, row in rows]
    held = {
        variant.sku: variant
        for variant in Variant.objects.select_for_update()
        .select_related("product")
        .filter(organization=organization, sku__in=[*wanted, *existing])
    }
    product_skus = {_cell(row, "sku"): line for line, row in parsed}
    forms, errors, first_line = [], [], {}
    for (line, row), sku in zip(rows, wanted, strict=True):
        if sku in first_line or (sku in product_skus and sku != _cell(row, "sku")):
            other = first_line.get(sku, product_skus.get(sku))
            errors.append(RowError(line, f"variant_sku: “{sku}” is also used on line {other}."))
            continue
        first_line[sku] = line
        variant, problems = variants.find_variant(
            line=line, row=row, product=existing.get(_cell(row, "sku")), held=held
        )
        errors += problems
        if variant is not None:
            form = variants.variant_form(row, variant)
            errors += variants.variant_errors(line, form) if not form.is_valid() else []
            forms.append((_cell(row, "sku"), form))
    return forms, errors


def _save_variants(products, variant_forms, stocks: dict[str, int | None]) -> None:
    """Each product's default variant (with its plain row's stock, when it gives one), then the
    rows' variants."""
    by_sku = {product.sku: product for product, _ in products}
    for sku, product in by_sku.items():
        variants.ensure_default_variant(product=product, stock=stocks.get(sku))
    for sku, form in variant_forms:
        form.instance.product = by_sku[sku]
        form.instance.organization_id = by_sku[sku].organization_id
        form.save()


def _restocked(existing: dict[str, Product], stocks: dict[str, int | None]) -> set[str]:
    """The SKUs of existing products whose default variant's stock the file changes."""
    current = dict(
        Variant.objects.filter(product__in=existing.values(), is_default=True).values_list(
            "product__sku", "stock"
        )
    )
    return {sku for sku, stock in stocks.items() if stock is not None and current.get(sku) != stock}


def _save(validated: list[tuple[Product, dict[str, Any]]], *, restocked: set[str]) -> ImportResult:
    created = updated = unchanged = 0
    for product, before in validated:
        changed = [field for field, value in before.items() if getattr(product, field) != value]
        if product.pk is None:
            product.save()
            created += 1
        elif changed or product.sku in restocked:
            product.save(update_fields=[*changed, "updated_at"])
            updated += 1
        else:
            unchanged += 1
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def _cell(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _form_data(row: Mapping[str, Any], product: Product) -> dict[str, Any]:
    """The form's data: the row's cells over the product's current (or default) values."""
    data = model_to_dict(product, fields=ProductImportForm._meta.fields)
    for column, value in row.items():
        if column in KEEP_IF_EMPTY_COLUMNS and _cell(row, column) == "":
            continue
        data[IMPORT_COLUMNS[column]] = "" if value is None else value
    return data


def _reasons(form: ProductImportForm) -> list[str]:
    """The form's errors in column order (model validation adds its own after the form's)."""
    order = list(FIELD_COLUMNS)
    fields = sorted(form.errors, key=lambda field: order.index(field) if field in order else len(order))
    return [
        f"{FIELD_COLUMNS[field]}: {message}" if field in FIELD_COLUMNS else message
        for field in fields
        for message in form.errors[field]
    ]


def _duplicate_sku_errors(parsed: list[Row]) -> list[RowError]:
    first_line: dict[str, int] = {}
    errors = []
    for line, row in parsed:
        sku = _cell(row, "sku")
        if variants.variant_label(row):
            continue  # a product's variants share its SKU (their own SKUs are checked apart)
        if sku in first_line:
            errors.append(RowError(line, f"sku: “{sku}” is on line {first_line[sku]} and line {line}."))
        elif sku:
            first_line[sku] = line
    return errors


def _variant_sku_errors(parsed: list[Row], organization: Organization) -> list[RowError]:
    """A product SKU that one of the brand's variants holds (see variants.variant_skus_taken)."""
    taken = variants.variant_skus_taken(organization.pk, {_cell(row, "sku") for _, row in parsed})
    return [
        RowError(line, f"sku: “{sku}” is the SKU of a variant of {taken[sku].product.name}.")
        for line, row in parsed
        if (sku := _cell(row, "sku")) in taken
    ]


def _external_id_errors(parsed: list[Row], organization: Organization) -> list[RowError]:
    """An external id given to two rows, or held by another product of the brand (the unique
    constraint: clear it on that product first)."""
    wanted = [(line, _cell(row, "external_id"), _cell(row, "sku")) for line, row in parsed]
    held = dict(
        Product.objects.filter(
            organization=organization, external_id__in=[ext for _, ext, _ in wanted if ext]
        ).values_list("external_id", "sku")
    )
    first_line: dict[str, int] = {}
    errors = []
    for line, external_id, sku in wanted:
        if not external_id:
            continue
        if external_id in first_line:
            errors.append(
                RowError(
                    line,
                    f"external_id: “{external_id}” is on line {first_line[external_id]} and line {line}.",
                )
            )
            continue
        first_line[external_id] = line
        if held.get(external_id, sku) != sku:
            errors.append(
                RowError(
                    line,
                    f"external_id: “{external_id}” belongs to the product with SKU “{held[external_id]}”.",
                )
            )
    return errors


def _column_errors(columns: list[str]) -> list[str]:
    known = ", ".join([*IMPORT_COLUMNS, *variants.VARIANT_COLUMNS])
    reasons = [
        f"unknown column “{c}” (the columns are: {known})."
        for c in columns
        if c not in IMPORT_COLUMNS and c not in variants.VARIANT_COLUMNS
    ]
    reasons += [
        f"column “{c}” appears more than once." for c in dict.fromkeys(columns) if columns.count(c) > 1
    ]
    reasons += [f"missing column “{c}”." for c in REQUIRED_IMPORT_COLUMNS if c not in columns]
    return reasons


def _read_rows(rows: Iterable[Mapping[str, Any]] | IO[str] | IO[bytes]) -> tuple[list[Row], list[RowError]]:
    """The rows worth validating, and the errors found in the file's shape."""
    if hasattr(rows, "read"):
        return _read_csv(rows.read())
    parsed, errors = [], []
    for line, row in enumerate(rows, start=2):
        reasons = _column_errors([str(column) for column in row])
        errors += [RowError(line, reason) for reason in reasons]
        if not reasons:
            parsed.append((line, row))
    return parsed, errors


def _read_csv(content: str | bytes) -> tuple[list[Row], list[RowError]]:
    text = _decode(content) if isinstance(content, bytes) else content.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    parsed, errors, previous_line = [], [], 0
    for cells in reader:
        # A quoted cell may span lines: a row's line is where it starts.
        line, previous_line = previous_line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            if reasons := _column_errors(header):
                raise ImportFailed([RowError(line, reason) for reason in reasons])
            continue
        while len(cells) > len(header) and not cells[-1].strip():
            cells.pop()  # trailing empty cells, as spreadsheets often write them
        if len(cells) != len(header):
            errors.append(RowError(line, f"expected {len(header)} cells, found {len(cells)}."))
            continue
        parsed.append((line, dict(zip(header, cells, strict=True))))
    if header is None:
        columns = ", ".join(IMPORT_COLUMNS)
        raise ImportFailed(
            [RowError(1, f"the file is empty; the first line must name the columns: {columns}.")]
        )
    return parsed, errors


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileNotUtf8(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}). "
            "Save it as “CSV UTF-8” and import it again."
        ) from exc


@transaction.atomic
def attach_product_image(*, product: Product, content: bytes | File, filename: str, by) -> Product:
    """Store ``content`` as the product's image (the model records its size) and a WebP thumbnail
    of at most 320x320, if ``by`` may edit the brand's catalogue. ValidationError unless it is a
    PNG, JPEG, WebP or GIF image. Locks the product row; the image and thumbnail it replaces are
    deleted from storage after commit."""
    permissions.require(by, Action.EDIT_CATALOG, product)
    image = images.check_image(content, filename=filename)
    thumbnail = images.make_thumbnail(image)
    old_names = Product.objects.select_for_update().values_list("image", "thumbnail").get(pk=product.pk)
    # A named file: Django reads width/height only from files that have a name.
    product.image.save(image.name, ContentFile(image.data, name=image.name), save=False)
    product.thumbnail.save(image.thumbnail_name, ContentFile(thumbnail), save=False)
    product.save(update_fields=["image", "image_width", "image_height", "thumbnail", "updated_at"])
    _delete_on_commit(product.image.storage, old_names, keep=(product.image.name, product.thumbnail.name))
    return product


@transaction.atomic
def remove_product_image(*, product: Product, by) -> Product:
    """Clear the product's image, its size and its thumbnail, if ``by`` may edit the brand's
    catalogue; the files are deleted from storage after commit. Locks the product row. Idempotent."""
    permissions.require(by, Action.EDIT_CATALOG, product)
    old_names = Product.objects.select_for_update().values_list("image", "thumbnail").get(pk=product.pk)
    product.image = ""
    product.thumbnail = ""
    product.save(update_fields=["image", "image_width", "image_height", "thumbnail", "updated_at"])
    _delete_on_commit(product.image.storage, old_names)
    return product


def _delete_on_commit(storage: Storage, names: Iterable[str], keep: Iterable[str] = ()) -> None:
    # After commit, so a rolled-back change never leaves a product pointing at a deleted file.
    doomed = [name for name in names if name and name not in keep]

    def delete_files():
        for name in doomed:
            storage.delete(name)

    if doomed:
        transaction.on_commit(delete_files, robust=True)
