"""The JSON the viewer API answers with (pure builders: rows in, dicts out)."""

from __future__ import annotations

from commerce.models import Cart, Order


def cart_payload(cart: Cart | None) -> dict:
    lines = list(cart.lines.select_related("variant__product")) if cart else []
    items = [
        {
            "variantId": line.variant_id,
            "sku": line.variant.sku,
            "name": line.variant.product.name,
            "variant": line.variant.label,
            "unitPrice": str(line.variant.price),
            "quantity": line.quantity,
            "subtotal": str(line.variant.price * line.quantity),
        }
        for line in lines
    ]
    return {
        "currency": lines[0].variant.product.currency if lines else "",
        "lines": items,
        "total": str(sum((line.variant.price * line.quantity for line in lines), start=0)),
    }


def order_payload(order: Order) -> dict:
    return {
        "token": str(order.token),
        "status": order.status,
        "statusText": order.get_status_display(),
        "reason": order.status_reason,
        "currency": order.currency,
        "total": str(order.total),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "unitPrice": str(line.unit_price),
                "quantity": line.quantity,
                "subtotal": str(line.subtotal),
            }
            for line in order.lines.all()
        ],
    }
