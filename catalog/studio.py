"""The studio's catalogue (mounted at /studio/products/): the brand's products with their stock,
and a product's page that edits it with its variants (label, options, SKU, price, stock, low-stock
threshold, on sale). Seeing the list needs Action.VIEW; editing needs Action.EDIT_CATALOG (owners
and hosts; a moderator gets 403); another brand's product is a 404."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from catalog import editing
from catalog.models import Product
from catalog.studio_forms import StudioProductForm, VariantFormSet

PER_PAGE = 50


class ProductListView(LoginRequiredMixin, View):
    """The user's brands' products (``?q=`` searches names and SKUs), with each one's stock."""

    def get(self, request):
        query = request.GET.get("q", "").strip()
        products = permissions.scope(Product.objects.select_related("organization"), request.user)
        if query:
            products = products.filter(Q(name__icontains=query) | Q(sku__icontains=query))
        page = Paginator(products.prefetch_related("variants").order_by("name", "pk"), PER_PAGE)
        page = page.get_page(request.GET.get("page"))
        context = {
            "page": page,
            "rows": [_row(product) for product in page.object_list],
            "q": query,
            "page_query": urlencode({"q": query}) if query else "",
            "can_edit": permissions.can_in_any(request.user, Action.EDIT_CATALOG),
            "show_brand": len(permissions.roles_of(request.user)) != 1,
        }
        return render(request, "studio/catalog/product_list.html", context)


def _row(product: Product) -> dict:
    on_sale = [variant for variant in product.variants.all() if variant.is_active]
    return {
        "product": product,
        "variants": len(product.variants.all()),
        "stock": sum(variant.stock for variant in on_sale),
        "sold_out": [variant for variant in on_sale if variant.stock == 0],
        "low": [variant for variant in on_sale if variant.left is not None],
    }


class ProductEditView(LoginRequiredMixin, View):
    """The product's fields and its variants, saved together; every SKU clash is a form error."""

    def get(self, request, pk):
        product = self._product(request, pk)
        return self._render(request, StudioProductForm(instance=product), VariantFormSet(instance=product))

    def post(self, request, pk):
        product = self._product(request, pk)
        form = StudioProductForm(request.POST, instance=product)
        formset = VariantFormSet(request.POST, instance=product)
        if not (form.is_valid() and formset.is_valid()):
            return self._render(request, form, formset, status=400)
        try:
            editing.save_product_with_variants(
                product=form.instance, changes=_changes(formset), deleted=_deleted(formset), by=request.user
            )
        except editing.SkuTaken as exc:
            form.add_error("sku", str(exc))
            return self._render(request, form, formset, status=409)
        messages.success(request, gettext("Saved %(name)s.") % {"name": product.name})
        return redirect("products:edit", pk=product.pk)

    def _product(self, request, pk) -> Product:
        products = Product.objects.select_related("organization")
        return permissions.get_for_user_or_404(products, request.user, Action.EDIT_CATALOG, pk=pk)

    def _render(self, request, form, formset, status: int = 200):
        context = {"product": form.instance, "form": form, "formset": formset}
        return render(request, "studio/catalog/product_form.html", context, status=status)


def _changes(formset) -> list[editing.VariantChange]:
    """The rows to save (changed or new, not deleted), with their stock moves."""
    changes = []
    for form in formset.forms:
        if not form.has_changed() or form in formset.deleted_forms:
            continue
        moved = form.cleaned_data["stock"] - _shown(form)
        changes.append(editing.VariantChange(variant=form.instance, stock_change=moved))
    return changes


def _shown(form) -> int:
    """The stock the page showed for this row (its hidden initial; 0 for a new row), whatever
    it is now; no change when the page sent none."""
    if form.instance.pk is None:
        return 0
    try:
        shown = form.fields["stock"].to_python(form.data.get(form.add_initial_prefix("stock")))
    except ValidationError:
        shown = None
    return form.cleaned_data["stock"] if shown is None else shown


def _deleted(formset) -> list:
    return [form.instance for form in formset.deleted_forms if form.instance.pk]
