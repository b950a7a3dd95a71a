"""The demo brand's product pages (``/demo/products/<sku>/``, in DEBUG only): the "product page"
that seed_demo gives each demo product, so the live card's Buy link and its QR code have somewhere
to go, as a real brand's shop page would be."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views import View

from catalog.models import Product
from demo.brand import BRAND_SLUG


class DemoProductPageView(View):
    def get(self, request, sku: str):
        if not settings.DEBUG:
            raise Http404("The demo brand's product pages are served only in development (DJANGO_DEBUG).")
        product = get_object_or_404(
            Product.objects.select_related("organization"), organization__slug=BRAND_SLUG, sku=sku
        )
        return render(request, "demo/product.html", {"product": product})
