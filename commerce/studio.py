"""The studio's orders (mounted at /studio/orders/): the brand-wide list with filters (status,
show or video), a show's and a video's orders with what sold while each product was on screen,
an order's page with Cancel and Refund, and the CSV export of any filtered list.

Orders hold buyers' e-mails and addresses, so seeing them is for the people who may act on them:
Action.MANAGE_ORDERS (owners and hosts; a moderator gets 403). Another brand's order, show or
video is a 404. Cancel and refund go through the payment provider (commerce.refunds); what it or
the order refuses comes back as a message on the order's page, never as an error page."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from commerce import payments, refunds, reports, shop_settings
from commerce.exceptions import CommerceError, RefundRefused
from commerce.forms import LowStockDefaultForm
from commerce.models import Order, ShopSettings
from commerce.payloads import address_lines
from events.models import LiveEvent
from liveshop.csvexport import stream_csv
from liveshop.display import format_price
from recordings.models import Recording

PER_PAGE = 50
Status = Order.Status


class OrderFilterForm(forms.Form):
    """The list's filters (GET). A value outside the choices is ignored, not an error page."""

    status = forms.ChoiceField(required=False)
    show = forms.ChoiceField(required=False, label=gettext_lazy("Show or video"))
    brand = forms.ChoiceField(required=False)

    def __init__(self, data, *, shows: dict[str, list[tuple[str, str]]], brands: list[tuple[str, str]]):
        super().__init__(data)
        self.fields["status"].choices = [("", gettext("Any status")), *Status.choices]
        groups = [(group, entries) for group, entries in shows.items() if entries]
        self.fields["show"].choices = [("", gettext("Every show and video")), *groups]
        self.fields["brand"].choices = [("", gettext("Every brand")), *brands]

    def value(self, name: str) -> str:
        return self.cleaned_data.get(name, "") if self.is_valid() else ""


def _require_orders(user) -> None:
    if not permissions.can_in_any(user, Action.MANAGE_ORDERS):
        raise PermissionDenied(gettext("Orders are for the brand's owners and hosts."))


def _show(request, value: str) -> dict:
    """The filter's ``event`` or ``recording`` for ``event:<id>`` / ``video:<id>`` (one the user
    may manage orders of: 404 otherwise)."""
    kind, _, pk = value.partition(":")
    model = {"event": LiveEvent, "video": Recording}.get(kind)
    if model is None or not pk.isdigit():
        return {}
    show = permissions.get_for_user_or_404(model.objects.all(), request.user, Action.MANAGE_ORDERS, pk=pk)
    return {"event": show} if model is LiveEvent else {"recording": show}


def _filters(request, **fixed) -> tuple[reports.OrderFilters, OrderFilterForm]:
    brands = permissions.scope(Organization.objects.order_by("name"), request.user, Action.MANAGE_ORDERS)
    choices = [(str(pk), name) for pk, name in brands.values_list("pk", "name")]
    form = OrderFilterForm(request.GET, shows=reports.shows_with_orders(request.user), brands=choices)
    show = fixed or _show(request, form.value("show"))
    brand = int(form.value("brand")) if form.value("brand") and not fixed else None
    return reports.OrderFilters(status=form.value("status"), organization_id=brand, **show), form


def _order_rows(orders) -> list[dict]:
    return [
        {
            "order": order,
            "total": format_price(order.total, order.currency),
            "lines": [_line_row(line) for line in order.lines.all()],
        }
        for order in orders
    ]


def _line_row(line) -> dict:
    if line.recording_id:
        show_url = reverse("orders:video", args=[line.recording_id])
    else:
        show_url = reverse("orders:event", args=[line.event_id]) if line.event_id else ""
    return {
        "line": line,
        "where": reports.attribution_label(line),
        "show_url": show_url,
        "subtotal": format_price(line.subtotal, line.currency),
    }


def _render_list(request, filters: reports.OrderFilters, form: OrderFilterForm, **context):
    orders = reports.list_orders(request.user, filters)
    page = Paginator(orders, PER_PAGE).get_page(request.GET.get("page"))
    counts = reports.status_counts(request.user, filters)
    statuses = [("", gettext("All"), sum(counts.values()))]
    statuses += [(value, label, counts[value]) for value, label in Status.choices if counts.get(value)]
    context |= {
        "form": form,
        "filters": filters,
        "page": page,
        "rows": _order_rows(page.object_list),
        "totals": reports.totals_by_currency(orders),
        "tabs": [
            (label, n, _query(request, status=value), value == filters.status) for value, label, n in statuses
        ],
        "export_query": _query(request, page=None, show=context.get("show_value")),
        "page_query": _query(request, page=None),
        "show_brand": len(permissions.organization_ids(request.user, Action.MANAGE_ORDERS)) != 1,
        "can_edit_shop": permissions.can_in_any(request.user, Action.EDIT_CATALOG),
    }
    return render(request, "studio/orders/order_list.html", context)


def _query(request, **changes) -> str:
    """The page's query string with ``changes`` (None or "" removes a parameter; page resets)."""
    query = request.GET.copy()
    query.pop("page", None)
    for name, value in changes.items():
        query.pop(name, None)
        if value:
            query[name] = value
    return query.urlencode()


def _render_show(request, *, title: str, value: str, **show):
    filters, form = _filters(request, **show)
    moments = reports.sales_by_moment(filters)
    return _render_list(request, filters, form, title=title, show_value=value, moments=moments, **show)


@method_decorator(never_cache, name="dispatch")
class OrderListView(LoginRequiredMixin, View):
    """Every order of the user's brands, newest first, filtered by status and show or video."""

    def get(self, request):
        _require_orders(request.user)
        filters, form = _filters(request)
        return _render_list(request, filters, form)


@method_decorator(never_cache, name="dispatch")
class EventOrdersView(LoginRequiredMixin, View):
    """A live show's orders and what sold while each product was featured."""

    def get(self, request, pk):
        event = permissions.get_for_user_or_404(
            LiveEvent.objects.select_related("organization"), request.user, Action.MANAGE_ORDERS, pk=pk
        )
        return _render_show(request, title=event.title, value=f"event:{event.pk}", event=event)


@method_decorator(never_cache, name="dispatch")
class VideoOrdersView(LoginRequiredMixin, View):
    """An uploaded video's (or a replay's) orders and what sold at each product cue."""

    def get(self, request, pk):
        video = permissions.get_for_user_or_404(
            Recording.objects.select_related("event"), request.user, Action.MANAGE_ORDERS, pk=pk
        )
        return _render_show(
            request, title=reports.video_title(video), value=f"video:{video.pk}", recording=video
        )


class OrderExportView(LoginRequiredMixin, View):
    """The filtered orders as CSV (one row per line), streamed."""

    def get(self, request):
        _require_orders(request.user)
        filters, _ = _filters(request)
        orders = reports.list_orders(request.user, filters)
        return stream_csv("orders.csv", reports.EXPORT_HEADER, reports.export_rows(orders))


def _order_or_404(request, pk: int) -> Order:
    orders = Order.objects.select_related("organization")
    return permissions.get_for_user_or_404(orders, request.user, Action.MANAGE_ORDERS, pk=pk)


@method_decorator(never_cache, name="dispatch")
class OrderDetailView(LoginRequiredMixin, View):
    """One order: buyer, address, lines with where each was added, payment, and the actions."""

    def get(self, request, pk):
        order = _order_or_404(request, pk)
        refund_rows = list(order.refunds.all())
        pending = sum((row.amount for row in refund_rows if row.status == "pending"), Decimal(0))
        left = order.total - order.refunded_total - pending
        context = {
            "order": order,
            "rows": _order_rows([order])[0]["lines"],
            "total": format_price(order.total, order.currency),
            "address": address_lines(order),
            "can_cancel": order.status == Status.PENDING,
            "can_refund": order.status in refunds.REFUNDABLE and left > 0,
            "can_refund_part": order.status == Status.PAID and left > 0,
            "refunded_part": order.status != Status.REFUNDED
            and order.refunded_total
            and format_price(order.refunded_total, order.currency),
            "left": format_price(left, order.currency),
            "refund_rows": [
                {"row": row, "amount": format_price(row.amount, order.currency)} for row in refund_rows
            ],
        }
        return render(request, "studio/orders/order_detail.html", context)


class _OrderActionView(LoginRequiredMixin, View):
    """POST (CSRF-checked): run ``action`` on the order; the outcome is a message on its page."""

    def action(self, *, order: Order, by) -> str:
        raise NotImplementedError

    def post(self, request, pk):
        order = _order_or_404(request, pk)
        try:
            done = self.action(order=order, by=request.user)
        except (CommerceError, payments.PaymentBackendError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect("orders:detail", pk=order.pk)


class OrderCancelView(_OrderActionView):
    def action(self, *, order, by) -> str:
        refunds.cancel_order_with_provider(order=order, by=by)
        return gettext("Order canceled: its payment is called off and its items are back on sale.")


class OrderRefundView(_OrderActionView):
    def action(self, *, order, by) -> str:
        order = refunds.refund_order_with_provider(order=order, by=by)
        if order.status != Status.REFUNDED:
            return gettext(
                "The refund is pending at the payment provider: the order turns refunded and its "
                "items go back on sale once it goes through."
            )
        amount = format_price(order.total - _refunded_before(order), order.currency)
        if not order.email:
            return gettext("Refunded %(amount)s to the buyer; the items are back in stock.") % {
                "amount": amount
            }
        return gettext("Refunded %(amount)s to %(email)s; the items are back in stock.") % {
            "amount": amount,
            "email": order.email,
        }


def _refunded_before(order: Order) -> Decimal:
    """What partial refunds gave back before the refund that completed ``order``'s."""
    last = order.refunds.filter(refund_id=order.refund_id).first() if order.refund_id else None
    return order.total - last.amount if last else Decimal(0)


class OrderPartialRefundView(_OrderActionView):
    """Give part of a paid order's money back (the ``amount`` field); its items stay sold."""

    def action(self, *, order, by) -> str:
        text = self.request.POST.get("amount", "").strip().replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise RefundRefused(
                gettext("“%(text)s” is not an amount: write it like 5.00.") % {"text": text[:20]}
            ) from None
        before = order.refunded_total
        order = refunds.refund_part_with_provider(order=order, amount=amount, by=by)
        given = format_price(amount, order.currency)
        if order.refunded_total == before:
            return gettext(
                "A refund of %(amount)s is pending at the payment provider; the order stays paid."
            ) % {"amount": given}
        if not order.email:
            return gettext("Refunded %(amount)s to the buyer; the order stays paid.") % {"amount": given}
        return gettext("Refunded %(amount)s to %(email)s; the order stays paid.") % {
            "amount": given,
            "email": order.email,
        }


@method_decorator(never_cache, name="dispatch")
class ShopSettingsView(LoginRequiredMixin, View):
    """A brand's shop settings (``?brand=<slug>``; a picker when the user has several brands):
    its low-stock default. EDIT_CATALOG (owners and hosts); another brand is a 404."""

    def get(self, request):
        organization = self._brand(request)
        if organization is None:
            return self._picker(request)
        current = ShopSettings.objects.filter(organization=organization).first()
        initial = {"low_stock_threshold": current.low_stock_threshold if current else None}
        return self._render(request, organization, LowStockDefaultForm(initial=initial))

    def post(self, request):
        organization = self._brand(request)
        if organization is None:
            raise Http404(gettext("Choose a brand."))
        form = LowStockDefaultForm(request.POST)
        if not form.is_valid():
            return self._render(request, organization, form, status=400)
        threshold = form.cleaned_data["low_stock_threshold"]
        shop_settings.set_low_stock_default(organization=organization, threshold=threshold, by=request.user)
        messages.success(request, gettext("Saved: cards use the new low-stock default."))
        return redirect(f"{reverse('orders:shop')}?brand={organization.slug}")

    def _brand(self, request) -> Organization | None:
        ids = permissions.organization_ids(request.user, Action.EDIT_CATALOG)
        slug = request.GET.get("brand", "")
        if not slug:
            if len(ids) != 1:
                return None
            return Organization.objects.get(pk=ids[0])
        organization = get_object_or_404(Organization, slug=slug)
        if not permissions.can(request.user, Action.VIEW, organization):
            raise Http404(gettext("No such brand."))
        permissions.require(request.user, Action.EDIT_CATALOG, organization)
        return organization

    def _picker(self, request):
        ids = permissions.organization_ids(request.user, Action.EDIT_CATALOG)
        if not ids:
            raise PermissionDenied(gettext("Only a brand's owners and hosts change its shop settings."))
        picker = {
            "title": gettext("Shop settings"),
            "intro": gettext("Which brand's shop?"),
            "list_url": "orders:list",
            "create_url": "orders:shop",
            "crumb": gettext("Orders"),
            "step": gettext("Shop settings"),
        }
        brands = Organization.objects.filter(pk__in=ids).order_by("name")
        return render(request, "studio/brand_picker.html", {"picker": picker, "brands": brands})

    def _render(self, request, organization, form, status=200):
        context = {"organization": organization, "form": form}
        return render(request, "commerce/studio_shop_settings.html", context, status=status)
