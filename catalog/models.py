from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog import thresholds
from catalog.currencies import ISO_4217
from catalog.thresholds import DEFAULT_LOW_STOCK_THRESHOLD as DEFAULT_LOW_STOCK_THRESHOLD  # re-exported


def validate_currency(value: str) -> None:
    if value not in ISO_4217:
        raise ValidationError(
            gettext("“%(value)s” is not an ISO 4217 currency code (e.g. USD, EUR).") % {"value": value}
        )


# The only schemes a Buy link may have: anything else (javascript:, data:, ftp:, ...) is refused
# at input and never rendered as a link (is_web_url).
WEB_URL_SCHEMES = ("http", "https")
validate_web_url = URLValidator(
    schemes=list(WEB_URL_SCHEMES), message="Enter a web address starting with http:// or https://."
)


def is_web_url(value: str) -> bool:
    """Whether ``value`` may be rendered as a link: an absolute http(s) URL with a host and no
    whitespace or control characters (browsers strip those, so they could hide another scheme)."""
    try:
        validate_web_url(value)
    except ValidationError:
        return False
    return not any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value)


class WebURLFormField(forms.URLField):
    default_error_messages = {"invalid": validate_web_url.message}
    default_validators = [validate_web_url]


class WebURLField(models.URLField):
    """A URL field that takes only http(s) URLs, in forms and in model validation, with one message."""

    default_validators = [validate_web_url]

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": WebURLFormField, **kwargs})


def product_image_path(product: "Product", filename: str) -> str:
    return f"products/{product.organization_id}/{filename}"


class Product(models.Model):
    """Something a brand sells. Its stock lives on its variants only (``Variant.stock``; every
    product has a default variant). ``sku`` is the default variant's SKU too: every write of it
    goes through catalog.variants.ensure_default_variant, which keeps the two equal."""

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField("SKU", max_length=64)
    # Another system's id for the product (the AWS retail demo's UUIDs): cue files may name
    # products by it ({"productId": "<external id>"}). Optional; unique within the brand.
    external_id = models.CharField(
        "external id",
        max_length=100,
        blank=True,
        help_text="The product's id in another system (e.g. a UUID); SRT cues may name it.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    image = models.ImageField(
        upload_to=product_image_path, blank=True, width_field="image_width", height_field="image_height"
    )
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    thumbnail = models.ImageField(upload_to=product_image_path, blank=True, editable=False)
    external_url = WebURLField(
        "product page",
        max_length=500,
        blank=True,
        help_text="The product's page on your shop (http:// or https://).",
    )
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sku"], name="product_sku_unique_per_brand"),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~models.Q(external_id=""),
                name="product_external_id_unique_per_brand",
                violation_error_message=_("Another product of this brand has this external id."),
            ),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "is_active"])]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class VariantManager(models.Manager):
    """Every variant it loads carries its brand's low-stock default (catalog.thresholds), selected
    in the same query; related managers and prefetches of ``variants`` use it too."""

    def get_queryset(self):
        queryset = super().get_queryset()
        brand_default = thresholds.expression()
        return (
            queryset if brand_default is None else queryset.annotate(**{thresholds.ATTRIBUTE: brand_default})
        )


class Variant(models.Model):
    """What a buyer actually buys: one size/colour of a product, with its own SKU (unique within
    the brand, across every product), stock and optional price. Every product has exactly one
    default variant (``is_default``): the product itself when it has no options. ``stock`` is the
    only stock there is: checkout takes and gives it back (commerce.stock), the admin and the
    import set it, the cards and the console read it."""

    organization_field = "organization"

    # The brand, copied from the product, so that SKUs can be unique per brand in the database.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="variants")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField("SKU", max_length=64)
    label = models.CharField(max_length=100, blank=True, help_text="e.g. “Red / M”; empty for the default.")
    options = models.JSONField(default=dict, blank=True, help_text='e.g. {"size": "M", "colour": "red"}')
    price_override = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    stock = models.IntegerField(default=0, validators=[MinValueValidator(0)])
    # The card says "only N left" at or under this many; empty: the brand default.
    low_stock_threshold = models.PositiveIntegerField(
        "low-stock threshold",
        null=True,
        blank=True,
        help_text=(
            "“Only N left” on the card at or under this many; "
            "empty: the brand's default (its shop settings; 10 unless set); 0: never."
        ),
    )
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField("active", default=True)
    position = models.PositiveSmallIntegerField(default=0)

    objects = VariantManager()

    class Meta:
        ordering = ["product", "-is_default", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sku"],
                name="variant_sku_unique_per_brand",
                violation_error_message="Another variant of this brand has this SKU.",
            ),
            models.UniqueConstraint(
                fields=["product"],
                condition=models.Q(is_default=True),
                name="one_default_variant_per_product",
            ),
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="variant_stock_not_negative"),
            models.CheckConstraint(
                condition=models.Q(price_override__gte=0) | models.Q(price_override__isnull=True),
                name="variant_price_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.product.name} {self.label}".strip() + f" ({self.sku})"

    @property
    def price(self):
        """The price a buyer pays (the override, else the product's); reads ``product``."""
        return self.product.price if self.price_override is None else self.price_override

    @property
    def threshold(self) -> int:
        """The low-stock threshold in force: the variant's own, else its brand's default (selected
        with the variant: catalog.thresholds)."""
        if self.low_stock_threshold is None:
            return thresholds.brand_default_of(self)
        return self.low_stock_threshold

    @property
    def left(self) -> int | None:
        """How many the card may say are left ("only N left"): the stock when it is at or under
        the threshold and not sold out; None otherwise. Public by design (viewers see it)."""
        return self.stock if 0 < self.stock <= self.threshold else None
