"""The shop's JSON API in the OpenAPI schema (/api/schema/, drf-spectacular). The shop's views are
plain Django views (commerce.views: Django's CSRF on every POST, for anonymous viewers too), which
drf-spectacular does not see, so this postprocessing hook (SPECTACULAR_SETTINGS) adds their paths
and shapes, and those of the same API in a shop's embed frame (commerce.embed_api: a cart token in
the X-Liveshop-Cart header instead of the session and CSRF cookies). commerce/tests/test_openapi.py
checks them against what the views answer."""

from __future__ import annotations

MONEY = {"type": "string", "format": "decimal", "description": "A decimal string in the currency."}
CURRENCY = {"type": "string", "description": "ISO 4217 code, e.g. EUR (one currency per cart and order)."}


def _object(properties: dict, *, nullable: bool = False, description: str = "") -> dict:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    if nullable:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS = {
    "ShopError": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "description": "What went wrong, for the buyer."},
            "soldOut": {"type": "boolean", "description": "409: a line has too little stock left."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "400: the reason of each invalid field.",
            },
            "cartToken": {
                "type": "string",
                "enum": ["new"],
                "description": "The embed API's 403 when the cart token was refused: start a new cart.",
            },
        },
        "required": ["error"],
    },
    "CartLineDeal": _object(
        {
            "regularPrice": MONEY,
            "percentOff": {"type": "integer", "nullable": True},
            "endsAt": {"type": "string", "format": "date-time"},
            "limitPerCustomer": {"type": "integer", "nullable": True},
        },
        nullable=True,
        description="The flash deal pricing the line (added on the live show while it runs).",
    ),
    "CartLine": _object(
        {
            "variantId": {"type": "integer"},
            "productId": {"type": "integer"},
            "sku": {"type": "string"},
            "name": {"type": "string"},
            "variant": {"type": "string", "description": "The option's label; empty for a product without."},
            "image": {"type": "string"},
            "unitPrice": MONEY,
            "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
            "subtotal": MONEY,
            "deal": _ref("CartLineDeal"),
            "note": {"type": "string", "description": "Why the line costs what it does (a personal offer)."},
        }
    ),
    "Cart": _object(
        {
            "currency": CURRENCY,
            "lines": {"type": "array", "items": _ref("CartLine")},
            "count": {"type": "integer"},
            "total": MONEY,
            "shippingCountries": {"type": "array", "items": {"type": "string"}},
            "csrfToken": {"type": "string", "description": "Send it as X-CSRFToken with the shop's POSTs."},
        },
        description="The buyer's cart at the brand, at the server's prices now.",
    ),
    "OrderLine": _object(
        {
            "sku": {"type": "string"},
            "name": {"type": "string"},
            "unitPrice": MONEY,
            "regularUnitPrice": {**MONEY, "nullable": True},
            "quantity": {"type": "integer"},
            "subtotal": MONEY,
        }
    ),
    "Order": _object(
        {
            "token": {"type": "string", "format": "uuid", "description": "The order's secret name."},
            "status": {
                "type": "string",
                "enum": ["pending", "paid", "failed", "expired", "canceled", "refunded", "needs_refund"],
            },
            "statusText": {"type": "string"},
            "reason": {"type": "string"},
            "currency": CURRENCY,
            "total": MONEY,
            "email": {"type": "string"},
            "shipping": _object(
                {"name": {"type": "string"}, "lines": {"type": "array", "items": {"type": "string"}}}
            ),
            "lines": {"type": "array", "items": _ref("OrderLine")},
        }
    ),
    "CheckoutStarted": {
        "allOf": [
            _ref("Order"),
            _object(
                {
                    "payment": _object(
                        {
                            "backend": {"type": "string", "enum": ["test", "stripe"]},
                            "clientSecret": {"type": "string"},
                        }
                    )
                }
            ),
        ]
    },
    "AddToCart": {
        "type": "object",
        "properties": {
            "variant_id": {
                "type": "integer",
                "description": "The option to add (required for products with several).",
            },
            "product_id": {
                "type": "integer",
                "description": "Instead of variant_id, for a product without options.",
            },
            "quantity": {"type": "integer", "minimum": 1, "maximum": 99, "default": 1},
            "event_id": {"type": "integer", "description": "The live show it was added on."},
            "recording_id": {"type": "integer", "description": "The video it was added on (a replay)."},
            "position_ms": {"type": "integer", "minimum": 0, "description": "Where in the video (replays)."},
        },
    },
    "CheckoutDetails": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email", "description": "A signed-in buyer's by default."},
            "full_name": {"type": "string"},
            "address_line1": {"type": "string"},
            "address_line2": {"type": "string"},
            "city": {"type": "string"},
            "postal_code": {"type": "string"},
            "region": {"type": "string"},
            "country": {"type": "string", "description": "ISO code of a country the brand ships to."},
        },
        "required": ["full_name", "address_line1", "city", "postal_code", "country"],
    },
}

BRAND = {"name": "brand_slug", "in": "path", "required": True, "schema": {"type": "string"}}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    reasons = {
        400: "Bad input: the reason (and one per field).",
        403: "No CSRF token (X-CSRFToken, from the cart's csrfToken).",
        404: "No such shop, product, event, video or order.",
        409: "Sold out (soldOut: true), an empty cart, or past a flash deal's limit.",
        502: "The payment provider failed.",
    }
    return {str(code): _json(_ref("ShopError"), reasons[code]) for code in codes}


def _op(operation_id: str, summary: str, responses: dict, *, body: dict | None = None) -> dict:
    operation = {"operationId": operation_id, "summary": summary, "tags": ["shop"], "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


PATHS = {
    "/api/shop/{brand_slug}/cart/": {
        "parameters": [BRAND],
        "get": _op("shop_cart", "The buyer's cart at the brand", {"200": _json(_ref("Cart"), "The cart.")}),
    },
    "/api/shop/{brand_slug}/cart/lines/": {
        "parameters": [BRAND],
        "post": _op(
            "shop_cart_add",
            "Add to the cart (attributed to the live show or the video)",
            {"201": _json(_ref("Cart"), "The updated cart."), **_errors(400, 403, 404, 409)},
            body=_ref("AddToCart"),
        ),
    },
    "/api/shop/{brand_slug}/cart/lines/{variant_id}/": {
        "parameters": [
            BRAND,
            {"name": "variant_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        "post": _op(
            "shop_cart_line",
            "Set a line's quantity (0 removes it)",
            {"200": _json(_ref("Cart"), "The updated cart."), **_errors(400, 403, 404, 409)},
            body={
                "type": "object",
                "properties": {"quantity": {"type": "integer", "minimum": 0}},
                "required": ["quantity"],
            },
        ),
    },
    "/api/shop/{brand_slug}/checkout/": {
        "parameters": [BRAND],
        "post": _op(
            "shop_checkout",
            "Reserve the cart's stock for an order and start its payment",
            {
                "201": _json(_ref("CheckoutStarted"), "The pending order and its payment."),
                **_errors(400, 403, 404, 409, 502),
            },
            body=_ref("CheckoutDetails"),
        ),
    },
    "/api/orders/{token}/": {
        "parameters": [TOKEN],
        "get": _op(
            "shop_order", "An order's status", {"200": _json(_ref("Order"), "The order."), **_errors(404)}
        ),
    },
}


CART_TOKEN = {
    "name": "X-Liveshop-Cart",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": 'The cart token the last answer gave (cartToken), or "new" before the frame has a cart.',
}
EMBED_403 = "Cross-origin (the frame calls its own site), or the cart token refused (cartToken: new)."


def _embedded(path: str, item: dict) -> tuple[str, dict]:
    """A shop path as the embed frame's cart API serves it: under /api/embed/, with the cart token
    header instead of cookies, answering the cart with its token instead of a CSRF token."""
    parameters = [*item.get("parameters", []), CART_TOKEN]
    embedded = {"parameters": parameters}
    for method, operation in item.items():
        if method == "parameters":
            continue
        responses = {}
        for code, response in operation["responses"].items():
            if code == "403":
                response = _json(_ref("ShopError"), EMBED_403)
            elif response["content"]["application/json"]["schema"] == _ref("Cart"):
                response = _json(_ref("EmbedCart"), response["description"])
            responses[code] = response
        responses.setdefault("403", _json(_ref("ShopError"), EMBED_403))
        embedded[method] = {
            **operation,
            "operationId": f"embed_{operation['operationId']}",
            "summary": f"{operation['summary']} (embed frame)",
            "tags": ["embed"],
            "responses": responses,
        }
    return path.replace("/api/shop/", "/api/embed/shop/", 1), embedded


EMBED_PATHS = dict(_embedded(path, item) for path, item in PATHS.items() if path.startswith("/api/shop/"))
SCHEMAS["EmbedCart"] = _object(
    {
        **{name: field for name, field in SCHEMAS["Cart"]["properties"].items() if name != "csrfToken"},
        "cartToken": {"type": "string", "description": "Send it as X-Liveshop-Cart with the next request."},
    },
    description="The frame's cart at the brand, with the cart token that names it (no cookie).",
)


def _with_parameters(item: dict) -> dict:
    """A path item with its parameters on each operation (drf-spectacular reads every key of a
    path item as an operation)."""
    parameters = item.get("parameters", [])
    return {method: {"parameters": parameters, **op} for method, op in item.items() if method != "parameters"}


def add_shop_paths(result: dict, generator=None, request=None, public=None) -> dict:
    """drf-spectacular postprocessing hook: the shop's paths (and the embed frame's) and schemas."""
    paths = {**PATHS, **EMBED_PATHS}
    result.setdefault("paths", {}).update({path: _with_parameters(item) for path, item in paths.items()})
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    return result
