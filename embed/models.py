from django.db import models

from accounts.models import Organization


class EmbedSettings(models.Model):
    """A brand's embeddable player: the sites that may frame it and whose cart "Add to cart" fills.

    ``allowed_origins`` holds one normalised origin a line (embed.origins; written only through
    embed.services.update_embed_settings), the ``frame-ancestors`` of every embed page of the brand."""

    organization_field = "organization"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="embed_settings")
    allowed_origins = models.TextField(
        "allowed sites",
        blank=True,
        help_text="One site a line, like https://shop.example.com or https://*.example.com.",
    )
    own_cart = models.BooleanField(
        "my own cart",
        default=False,
        help_text="Add to cart sends the product's SKU to your site instead of Liveshop's checkout.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "embed settings"
        verbose_name_plural = "embed settings"

    def __str__(self):
        return f"Embed settings of {self.organization}"

    @property
    def origins(self) -> list[str]:
        return [line for line in self.allowed_origins.splitlines() if line]
