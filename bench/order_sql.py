"""An order's own SQL as a pgbench script: the fair database reference for bench/checkout.py's
throughput (``--order-sql``).

One buyer orders twice through Django in this process (the test client, the production settings,
the scratch database): add to cart on the live show, check out, pay with the test card, as
commerce/tests/test_query_counts.py counts them. The second order's statements are recorded with
their transactions (a service's atomic block is one BEGIN ... COMMIT; a statement outside one is
its own transaction) and written as a pgbench script that does the same work again and again:

- the rows an order makes get fresh ids: each INSERT's RETURNING id is kept with ``\\gset`` and
  used where the order used it (the tables' sequences are moved to ranges of their own before the
  capture, so an id is told from any other number by its value);
- the order's token, payment id and the payment event's id are new for each transaction (md5 of
  the client and a random number), as each real order's are;
- each pgbench client has its own anonymous cart (carts made for them, one id after another):
  buyers do not share carts; everything else (the show, the variant, the session read, prices,
  addresses, times) is the captured literal.

So pgbench pays PostgreSQL's part of an order (its 26 statements, their locks, the hot variant's
stock UPDATE they all take) without Python, HTTP or Django: the throughput a perfect application
server could reach on this database."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

# The tables an order adds rows to, and where their ids are moved for the capture (bigint).
FRESH_ID_BASES = {
    "commerce_cart": 9_100_000_000_000,
    "commerce_cartline": 9_200_000_000_000,
    "commerce_order": 9_300_000_000_000,
    "commerce_orderline": 9_400_000_000_000,
    "commerce_stockreservation": 9_500_000_000_000,
    "commerce_paymentevent": 9_600_000_000_000,
}
RANGE = 100_000_000_000
INSERT_INTO = re.compile(r'^INSERT INTO "?(\w+)"?')
SENTINEL = "__bench_var_{}__"


@dataclass
class Statement:
    sql: str
    params: object
    block: int | None  # the outermost atomic block it ran in (one transaction), None: autocommit


@dataclass
class Capture:
    statements: dict[str, list[Statement]] = field(default_factory=dict)  # by request
    cart_id: int = 0
    token: str = ""
    payment_id: str = ""
    event_id: str = ""


def move_sequences() -> None:
    """Each fresh table's ids from now on in a range of its own (kept when already past it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table, base in FRESH_ID_BASES.items():
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(%s, (SELECT COALESCE(MAX(id), 0) FROM {table}) + 1, nextval(pg_get_serial_sequence(%s, 'id'))))",  # noqa: E501, S608
                [table, base, table],
            )


def capture_order(ids: dict, *, address: dict, card: str) -> Capture:
    """Two orders of one buyer through Django; the second one's statements, by request."""
    from django.db import connection
    from django.test import Client

    from commerce.models import Order, PaymentEvent

    move_sequences()
    client = Client(secure=True, HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    brand, variant, event = ids["brand"], ids["variants"]["hot"], ids["event"]
    capture = Capture()
    current: list[Statement] = []

    def record(execute, sql, params, many, context):
        blocks = connection.atomic_blocks
        current.append(Statement(sql, params, id(blocks[0]) if blocks else None))
        return execute(sql, params, many, context)

    def post(name: str, path: str, data: dict) -> dict:
        current.clear()
        with connection.execute_wrapper(record):
            answer = client.post(path, json.dumps(data), content_type="application/json")
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{name}: {answer.status_code} {answer.content[:300]!r}")
        capture.statements[name] = list(current)
        return answer.json()

    for _ in range(2):  # the first makes the session and the cart
        post("add", f"/api/shop/{brand}/cart/lines/", {"variant_id": variant, "event_id": event})
        order = post("checkout", f"/api/shop/{brand}/checkout/", {"email": "sql@bench.example", **address})
        paid = post(
            "pay",
            f"/api/orders/{order['token']}/test-payment/",
            {"client_secret": order["payment"]["clientSecret"], "card_number": card},
        )
        if paid.get("status") != "paid":
            raise RuntimeError(f"the captured order was not paid: {paid}")
    row = Order.objects.get(token=order["token"])
    capture.cart_id, capture.token, capture.payment_id = row.cart_id, str(row.token), row.payment_id
    capture.event_id = PaymentEvent.objects.filter(payment_id=row.payment_id).latest("pk").event_id
    return capture


def make_carts(brand_slug: str, clients: int) -> int:
    """One anonymous cart per pgbench client, ids one after another; the first id."""
    from accounts.models import Organization
    from commerce.models import Cart

    brand = Organization.objects.get(slug=brand_slug)
    carts = Cart.objects.bulk_create([Cart(organization=brand) for _ in range(clients)])
    first = carts[0].pk
    if [c.pk for c in carts] != list(range(first, first + clients)):
        raise RuntimeError("the pgbench carts' ids are not consecutive")
    return first


def script(capture: Capture, *, first_cart: int) -> tuple[str, int]:
    """The pgbench script of the captured order and how many statements it sends (no BEGIN or
    COMMIT counted)."""
    from django.db import connection

    fresh = {
        capture.token: "md5('t' || :client_id || '-' || :bench_r)::uuid",
        capture.payment_id: "('tp_' || left(md5('p' || :client_id || '-' || :bench_r), 24))",
        capture.event_id: "('tpevt_' || left(md5('e' || :client_id || '-' || :bench_r), 24))",
    }
    lines = [
        "-- bench/order_sql.py: one order's statements (add to cart, check out, pay)",
        r"\set bench_r random(1, 1000000000000000)",
        rf"\set bench_cart {first_cart} + :client_id",  # client_id counts from 0
    ]
    count = 0
    for name in ("add", "checkout", "pay"):
        lines.append(f"-- {name}")
        open_block = None
        for statement in capture.statements[name]:
            if statement.block != open_block:
                if open_block is not None:
                    lines.append("COMMIT;")
                if statement.block is not None:
                    lines.append("BEGIN;")
                open_block = statement.block
            sql = literal_sql(connection, statement, fresh=fresh, cart_id=capture.cart_id)
            count += 1
            table = INSERT_INTO.match(sql)
            if table and " RETURNING " in sql and table.group(1) in FRESH_ID_BASES:
                lines.append(f"{sql} \\gset bench_{table.group(1)}_")
            else:
                lines.append(f"{sql};")
        if open_block is not None:
            lines.append("COMMIT;")
    return "\n".join([*lines, ""]), count


def literal_sql(connection, statement: Statement, *, fresh: dict[str, str], cart_id: int) -> str:
    """The statement with its parameters as literals, the order's own values as pgbench
    variables or fresh expressions."""
    from psycopg import ClientCursor

    if statement.params is None:
        return statement.sql
    expressions: list[str] = []

    def swap(value):
        if isinstance(value, list | tuple):
            swapped = [swap(v) for v in value]
            if any(isinstance(v, _Var) for v in swapped):
                items = ", ".join(
                    v.expression if isinstance(v, _Var) else _literal(connection, v) for v in swapped
                )
                return _var(expressions, f"ARRAY[{items}]")
            return value
        if isinstance(value, uuid.UUID):
            value = str(value)
        if isinstance(value, str) and value in fresh:
            return _var(expressions, fresh[value])
        if isinstance(value, int) and not isinstance(value, bool):
            if value == cart_id:
                return _var(expressions, ":bench_cart")
            for table, base in FRESH_ID_BASES.items():
                if base <= value < base + RANGE:
                    return _var(expressions, f":bench_{table}_id")
        return value

    params = statement.params
    swapped = (
        {k: swap(v) for k, v in params.items()} if isinstance(params, dict) else [swap(v) for v in params]
    )
    as_text = (
        {k: v.sentinel if isinstance(v, _Var) else v for k, v in swapped.items()}
        if isinstance(swapped, dict)
        else [v.sentinel if isinstance(v, _Var) else v for v in swapped]
    )
    with ClientCursor(connection.connection) as cursor:
        sql = cursor.mogrify(statement.sql, as_text)
    for i, expression in enumerate(expressions):  # casts after them stay: ARRAY[...]::bigint[]
        sql = sql.replace(f"'{SENTINEL.format(i)}'", expression)
    if "__bench_var_" in sql:
        raise RuntimeError(f"a value was left unreplaced in {sql[:200]}")
    return sql


@dataclass(frozen=True)
class _Var:
    sentinel: str
    expression: str


def _var(expressions: list[str], expression: str) -> _Var:
    expressions.append(expression)
    return _Var(SENTINEL.format(len(expressions) - 1), expression)


def _literal(connection, value) -> str:
    from psycopg import ClientCursor

    with ClientCursor(connection.connection) as cursor:
        return cursor.mogrify("%s", [value])
