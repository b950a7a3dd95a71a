"""The JSON the viewer API answers with, and what the order page and e-mail show (pure builders:
rows in, dicts out). Money travels as Decimal strings in the order's or product's currency; the
page formats it in the viewer's locale (Intl), the e-mail and the first paint with format_price."""

from __future__ import annotations

from commerce.carts import LinePrice, priced_lines
from commerce.countries import COUNTRIES
from commerce.models import Cart, Order
from liveshop.display import format_price


def cart_payload(cart: Cart | None) -> dict:
    """The cart at the server's prices now (commerce.carts.line_prices): a line added on the live
    show during a flash deal at the deal's price, with the deal's end and the normal price."""
    lines, prices = priced_lines(cart)
    items = [
        {
            "variantId": line.variant_id,
            "productId": line.variant.product_id,
            "sku": line.variant.sku,
            "name": line.variant.product.name,
            "variant": line.variant.label,
            "image": _image(line.variant.product),
            "unitPrice": str(price.unit_price),
            "quantity": line.quantity,
            "subtotal": str(price.unit_price * line.quantity),
            "deal": _line_deal(price),
            "note": price.note,  # why a price hook's price applies or not (a personal offer's end)
        }
        for line, price in zip(lines, prices, strict=True)
    ]
    return {
        "currency": lines[0].variant.product.currency if lines else "",
        "lines": items,
        "count": sum(line.quantity for line in lines),
        "total": str(
            sum((p.unit_price * line.quantity for line, p in zip(lines, prices, strict=True)), start=0)
        ),
    }


def _line_deal(price: LinePrice) -> dict | None:
    """A cart line's flash deal: its normal price and when the deal price ends (then the normal one)."""
    if price.deal is None:
        return None
    return {
        "regularPrice": str(price.regular),
        "percentOff": price.deal.percent_off,
        "endsAt": price.deal.ends_at.isoformat(),
        "limitPerCustomer": price.deal.limit_per_customer,
    }


def _image(product) -> str:
    image = product.thumbnail or product.image
    return image.url if image else ""


def order_payload(order: Order) -> dict:
    return {
        "token": str(order.token),
        "status": order.status,
        "statusText": order.get_status_display(),
        "reason": order.status_note_text,
        "currency": order.currency,
        "total": str(order.total),
        "email": order.email,
        "shipping": {
            "name": order.full_name,
            "lines": address_lines(order),
        },
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "unitPrice": str(line.unit_price),
                # The normal price of a line bought at a flash deal's (None otherwise).
                "regularUnitPrice": str(line.regular_unit_price) if line.deal_id else None,
                "quantity": line.quantity,
                "subtotal": str(line.subtotal),
            }
            for line in order.lines.all()
        ],
    }


def address_lines(order: Order) -> list[str]:
    """The shipping address as it is written on a parcel (empty parts left out)."""
    town = " ".join(part for part in (order.postal_code, order.city) if part)
    parts = [order.address_line1, order.address_line2, town, order.region, COUNTRIES.get(order.country, "")]
    return [part for part in parts if part]


def order_display(order: Order) -> dict:
    """The order page's and the confirmation e-mail's context: prices formatted for reading."""
    return {
        "order": order,
        "lines": [
            {
                "name": line.name,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": format_price(line.unit_price, line.currency),
                "subtotal": format_price(line.subtotal, line.currency),
            }
            for line in order.lines.all()
        ],
        "total": format_price(order.total, order.currency),
        "address": address_lines(order),
    }
