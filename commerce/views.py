"""The viewer's JSON API (cart, checkout, order status) and the payment webhook. Each view reads
its input strictly (liveshop.jsoninput), calls one service and answers JSON; every expected
failure is a 4xx with a reason ({"error": ...}), never a 500. POSTs need Django's CSRF token
(X-CSRFToken), except the webhook, which the provider signs instead."""

from __future__ import annotations

import functools
from typing import Any

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Organization
from accounts.permissions import may_watch
from commerce import payments, selectors, services
from commerce.carts import cart_credentials, cart_for_request, cart_ref, remember_cart
from commerce.exceptions import CommerceError, DealLimitReached, EmptyCart, SoldOut, VariantUnavailable
from commerce.forms import CheckoutForm
from commerce.models import Order
from commerce.payloads import cart_payload, order_display, order_payload
from commerce.payments.test import TestPaymentBackend
from events.models import LiveEvent
from liveshop import jsoninput, viewer_id
from recordings.models import Recording

ERROR_STATUS = {SoldOut: 409, VariantUnavailable: 404, EmptyCart: 409, DealLimitReached: 409}


class BadInput(ValueError):
    """Input the view refuses; ``fields`` names the reason of each invalid field, if any."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}


def json_api(view):
    """Answer the view's expected failures as JSON 4xx (payment provider trouble as 502)."""

    @functools.wraps(view)
    @never_cache  # per viewer (their cart, their order): never from a shared cache
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return JsonResponse({"error": str(exc) or "Not found."}, status=404)
        except BadInput as exc:
            return JsonResponse({"error": str(exc), "fields": exc.fields}, status=400)
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except CommerceError as exc:
            status = next((code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind)), 400)
            return JsonResponse({"error": str(exc), "soldOut": isinstance(exc, SoldOut)}, status=status)
        except payments.PaymentBackendError as exc:
            return JsonResponse({"error": str(exc)}, status=502)

    return wrapper


def _body(request) -> dict[str, Any]:
    try:
        data = jsoninput.loads(request.body or b"{}")
    except ValueError as exc:
        raise BadInput(f"The body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput("The body must be a JSON object.")
    return data


def _int(data: dict, name: str, *, default: int | None = None) -> int | None:
    value = data.get(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise BadInput(f"{name} must be a positive whole number.")
    return value


def _shop(slug: str) -> selectors.Shop:
    """The brand and where it ships (commerce.selectors.shop: kept by the process for a while)."""
    shop = selectors.shop(slug)
    if shop is None:
        raise Http404("No such shop.")
    return shop


def _position(data: dict) -> int | None:
    value = data.get("position_ms")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise BadInput("position_ms must be a whole number of milliseconds from the video's start.")
    return value


def _attribution(request, brand: Organization, data: dict) -> dict:
    event_id, recording_id = _int(data, "event_id"), _int(data, "recording_id")
    if recording_id is not None:
        recording = (
            Recording.objects.filter(pk=recording_id, organization=brand)
            .select_related("event")
            .order_by()  # one row by its id: the default ordering would only cost compiling it
            .first()
        )
        if recording is None or not (
            recording.is_published or (recording.event and may_watch(request.user, recording.event))
        ):
            raise Http404("No such video.")
        return {"recording": recording, "position_ms": _position(data)}
    if event_id is not None:
        event = LiveEvent.objects.filter(pk=event_id, organization=brand).order_by().first()
        if event is None or not may_watch(request.user, event):
            raise Http404("No such event.")
        return {"event": event}
    return {}


def _cart_answer(request, shop: selectors.Shop, cart, status: int = 200) -> JsonResponse:
    """The cart, where the brand ships, and the CSRF token the shop's POSTs carry (the viewer
    pages are shared cached pages: no token in them), or in a shop's embed frame its cart token."""
    answer = {
        **cart_payload(cart),
        "shippingCountries": list(shop.shipping_countries),
        **cart_credentials(request, cart),
    }
    return JsonResponse(answer, status=status)


@require_GET
@json_api
def cart_view(request, brand_slug: str):
    shop = _shop(brand_slug)
    return _cart_answer(request, shop, cart_for_request(request, shop.organization, create=False))


@require_POST
@json_api
def cart_add_view(request, brand_slug: str):
    shop, data = _shop(brand_slug), _body(request)
    brand = shop.organization
    variant_id, quantity = _int(data, "variant_id"), _int(data, "quantity", default=1)
    if variant_id is None and _int(data, "product_id") is not None:
        variant_id = selectors.only_variant_id(brand, data["product_id"])
    if variant_id is None:
        raise BadInput(gettext("Choose an option of this product: variant_id is required."))
    attribution = _attribution(request, brand, data)
    line = services.add_to_cart(
        cart=cart_ref(request, brand), variant_id=variant_id, quantity=quantity, **attribution
    )
    remember_cart(request, line.cart)
    return _cart_answer(request, shop, line.cart, status=201)


@require_POST
@json_api
def cart_line_view(request, brand_slug: str, variant_id: int):
    """Set a line's quantity ({"quantity": n}; 0 removes it)."""
    shop, data = _shop(brand_slug), _body(request)
    quantity = data.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise BadInput("quantity must be a whole number, 0 to remove the item.")
    cart = cart_for_request(request, shop.organization, create=False)
    if cart is None:
        raise VariantUnavailable(gettext("This item is not in your cart."))
    services.set_cart_line_quantity(cart=cart, variant_id=variant_id, quantity=quantity)
    return _cart_answer(request, shop, cart)


@require_POST
@json_api
def checkout_view(request, brand_slug: str):
    """Start paying for the cart: 400 with ``fields`` (a reason per invalid field) for bad
    details, 409 for a sold-out line (nothing reserved), else the order and its payment."""
    shop, data = _shop(brand_slug), _body(request)
    if not data.get("email") and request.user.is_authenticated:
        data["email"] = request.user.email
    form = CheckoutForm(data, countries=list(shop.shipping_countries))
    if not form.is_valid():
        raise BadInput(gettext("Check the highlighted details."), form.field_errors())
    details = form.cleaned_data
    address = {field: details[field] for field in services.ADDRESS_FIELDS}
    order, payment = services.start_checkout(
        cart=cart_ref(request, shop.organization),
        email=details["email"],
        user=request.user,
        address=address,
        # An embed frame's checkout (a cart token) never has our cookie: counted by its address.
        viewer=viewer_id.counting_id_of(
            request, keeps_no_cookie=getattr(request, "cart_token", None) is not None
        ),
        language=request.LANGUAGE_CODE,
    )
    answer = order_payload(order)
    answer["payment"] = {"backend": order.payment_backend, "clientSecret": payment.client_secret}
    return JsonResponse(answer, status=201)


@require_GET
@json_api
def order_view(request, token: str):
    return JsonResponse(order_payload(_order(token)))


@require_POST
@json_api
def test_payment_view(request, token: str):
    """The test provider's card form: pay the order with a test card number, through the same
    webhook handling as a real provider's delivery (PAYMENT_BACKEND=test only)."""
    backend = payments.get_payment_backend()
    if not isinstance(backend, TestPaymentBackend):
        raise Http404("The test payment provider is not in use.")
    order, data = _order(token, with_lines=False), _body(request)
    try:
        delivery = backend.confirm(
            client_secret=str(data.get("client_secret", "")),
            reference=str(order.token),
            amount_minor=payments.minor_units(order.total, order.currency),
            currency=order.currency,
            card_number=str(data.get("card_number", "")),
            authenticated=data.get("authenticated") is True,
        )
    except payments.PaymentBackendError as exc:
        raise BadInput(str(exc)) from None
    if delivery.body:
        _, changed = services.apply_payment_delivery(body=delivery.body, headers=delivery.headers)
        if changed is not None and changed.pk == order.pk:
            order = changed  # as the event left it, under its lock
        else:
            order.refresh_from_db()
    return JsonResponse({**order_payload(order), "payment": {"status": delivery.status}})


def _order(token: str, *, with_lines: bool = True) -> Order:
    try:
        return selectors.get_order(token, with_lines=with_lines)
    except Order.DoesNotExist:
        raise Http404("No such order.") from None


@require_GET
@never_cache
def order_page_view(request, token: str):
    """The buyer's order page: its token (from the confirmation and the e-mail) is the secret, so
    it is never cached, indexed or sent on as a referrer."""
    order = _order(token)
    response = render(request, "commerce/order.html", {**order_display(order), "shop": order.organization})
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@require_POST
def payment_webhook_view(request):
    """The payment provider's deliveries: 400 with the reason when the signature (or body) does
    not verify, 503 when the provider could not be asked what the event needs (charge.refunded's
    refunds), else 200 with what it did (a redelivery answers "duplicate")."""
    try:
        outcome = services.handle_payment_webhook(body=request.body, headers=request.headers)
    except payments.InvalidWebhook as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except payments.PaymentBackendError as exc:  # reading the provider failed: it delivers again
        return JsonResponse({"error": str(exc)}, status=503)
    return JsonResponse({"outcome": outcome})
