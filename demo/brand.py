"""The demo brand: Northwind Outfitters, its owner and host logins, and eight products with
generated product-card images (seed_demo writes them; browser tests draw the same cards)."""

from __future__ import annotations

import io
import os
import random
import zlib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from accounts.models import Membership

BRAND_SLUG = "northwind"
BRAND_NAME = "Northwind Outfitters"
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
IMAGE_SIZE = 800


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password_env: str


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    description: str
    price: Decimal
    stock: int
    colors: tuple[str, str]  # the image's gradient, top-left to bottom-right

    def as_row(self) -> dict[str, str]:
        """The product as a row for catalog.services.import_products_as_operator."""
        return {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "price": str(self.price),
            "currency": "USD",
            "stock": str(self.stock),
        }


DEMO_USERS = [
    DemoUser("demo-owner", Membership.Role.OWNER, "LIVESHOP_DEMO_OWNER_PASSWORD"),
    DemoUser("demo-host", Membership.Role.HOST, "LIVESHOP_DEMO_HOST_PASSWORD"),
]

DEMO_PRODUCTS = [
    DemoProduct(
        "NW-JKT-001",
        "Ridgeline Waterproof Shell Jacket",
        "A 3-layer waterproof, breathable shell with pit zips, a helmet-compatible hood and "
        "taped seams. Packs into its own chest pocket.",
        Decimal("189.00"),
        24,
        ("#1f4e5f", "#3fa7a3"),
    ),
    DemoProduct(
        "NW-FLC-002",
        "Alpine Grid Fleece Pullover",
        "Lightweight grid fleece that traps warmth and dries fast. Quarter zip, thumb loops and "
        "a zippered chest pocket.",
        Decimal("79.00"),
        40,
        ("#b6462f", "#f2a541"),
    ),
    DemoProduct(
        "NW-BPK-003",
        "Trailhead 28L Daypack",
        "A ventilated back panel, hip-belt pockets, a hydration sleeve and a rain cover tucked "
        "in the base. Fits a 15-inch laptop.",
        Decimal("119.00"),
        18,
        ("#2d3a4a", "#6c8ead"),
    ),
    DemoProduct(
        "NW-BOT-004",
        "Summit Leather Hiking Boots",
        "Full-grain leather uppers, a waterproof membrane and grippy Vibram soles. Resoleable, "
        "built for years of trail miles.",
        Decimal("229.00"),
        6,  # under the default low-stock threshold (10): its card says "only 6 left"
        ("#5b3a29", "#c08552"),
    ),
    DemoProduct(
        "NW-BTL-005",
        "Insulated Steel Water Bottle",
        "750 ml of double-wall vacuum insulation: drinks stay cold for 24 hours or hot for 12. "
        "Leak-proof lid, dishwasher safe.",
        Decimal("34.00"),
        75,
        ("#0f6b8f", "#7fd1d8"),
    ),
    DemoProduct(
        "NW-BNE-006",
        "Merino Wool Beanie",
        "Soft, itch-free merino in a classic ribbed knit. Warm when damp and naturally odour "
        "resistant. One size.",
        Decimal("29.00"),
        60,
        ("#6d2e46", "#d5a6bd"),
    ),
    DemoProduct(
        "NW-LMP-007",
        "Rechargeable Camp Lantern",
        "Up to 400 lumens with warm and cool modes, 50 hours on low, and a USB-C port to top "
        "up your phone at camp.",
        Decimal("49.00"),
        30,
        ("#33415c", "#f4d35e"),
    ),
    DemoProduct(
        "NW-SCK-008",
        "Merino Hiking Socks (3-Pack)",
        "Cushioned merino-blend crew socks with a seamless toe and arch support. Three "
        "colours, sizes S to XL.",
        Decimal("39.00"),
        100,
        ("#386641", "#a7c957"),
    ),
]


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if os.path.exists(FONT_PATH):
        return ImageFont.truetype(FONT_PATH, size)
    return ImageFont.load_default(size=size)


def _gradient(size: int, start: str, end: str) -> Image.Image:
    """A diagonal gradient from ``start`` (top left) to ``end`` (bottom right)."""
    vertical = Image.linear_gradient("L").resize((size, size))
    mask = Image.blend(vertical, vertical.transpose(Image.Transpose.ROTATE_90), 0.5)
    return Image.composite(Image.new("RGB", (size, size), end), Image.new("RGB", (size, size), start), mask)


def _wrap(text: str, font, max_width: float) -> list[str]:
    """Split ``text`` into lines no wider than ``max_width`` pixels (a long word keeps its line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= max_width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _landscape(draw: ImageDraw.ImageDraw, size: int, name: str, horizon: float) -> None:
    """The card's picture above ``horizon``: stars, two mountain ridges and a row of pines, laid
    out from the product's name (the same name draws the same picture). Its many sharp corners,
    spread over the card, are what the product detector (discovery) recognises a card by: text
    alone on a gradient gave it too few, bunched on the lettering."""
    rng = random.Random(zlib.crc32(name.encode()))
    white = (255, 255, 255)
    for _ in range(rng.randint(7, 11)):  # four-pointed stars
        x, y = rng.uniform(size * 0.08, size * 0.92), rng.uniform(size * 0.16, horizon - size * 0.30)
        r = rng.uniform(size * 0.008, size * 0.018)
        arms = [(0, -2.4), (0.6, -0.6), (2.4, 0), (0.6, 0.6), (0, 2.4), (-0.6, 0.6), (-2.4, 0), (-0.6, -0.6)]
        draw.polygon([(x + dx * r, y + dy * r) for dx, dy in arms], fill=(*white, 200))
    for peaks, (low, high), alpha in (
        (rng.randint(3, 5), (0.38, 0.22), 60),
        (rng.randint(2, 4), (0.26, 0.12), 110),
    ):
        points = [(0.0, horizon)]
        for x in sorted(rng.uniform(0, size) for _ in range(peaks)):
            points.append((x, horizon - rng.uniform(high, low) * size))
            valley = min(x + rng.uniform(size * 0.05, size * 0.12), size)
            points.append((valley, horizon - rng.uniform(size * 0.04, high * size)))
        points += [(size, horizon - rng.uniform(0, high) * size), (size, horizon)]
        draw.polygon(points, fill=(*white, alpha))
    for _ in range(rng.randint(6, 10)):  # pines: three stacked triangles each
        x, height = rng.uniform(size * 0.04, size * 0.96), rng.uniform(size * 0.08, size * 0.16)
        base = horizon + rng.uniform(-size * 0.02, size * 0.01)
        for tier in range(3):
            y, half = base - height * tier * 0.28, height * 0.45 * (1 - tier * 0.22)
            draw.polygon([(x - half, y), (x, y - height * 0.5), (x + half, y)], fill=(*white, 210))
    draw.rectangle((0, horizon, size, horizon + size * 0.006), fill=(*white, 150))


def product_card_png(name: str, colors: tuple[str, str], size: int = IMAGE_SIZE) -> bytes:
    """A square product card: a gradient, a soft circle, the brand, a landscape drawn from the
    product's name, and the name."""
    overlay = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.ellipse((size * 0.45, -size * 0.2, size * 1.25, size * 0.6), fill=(255, 255, 255, 40))
    margin = size * 0.08
    draw.text((margin, margin), BRAND_NAME.upper(), font=_font(size // 28), fill=(255, 255, 255, 215))
    font_size = size // 12
    font = _font(font_size)
    lines = _wrap(name, font, size - 2 * margin)
    line_height = round(font_size * 1.25)
    top = size - margin - line_height * len(lines)
    _landscape(draw, size, name, horizon=top - size * 0.06)
    for index, line in enumerate(lines):
        y = top + index * line_height
        draw.text(
            (margin + 2, y + 3), line, font=font, fill=(0, 0, 0, 60)
        )  # a soft shadow, for light colours
        draw.text((margin, y), line, font=font, fill=(255, 255, 255, 255))
    card = Image.alpha_composite(_gradient(size, *colors).convert("RGBA"), overlay).convert("RGB")
    buffer = io.BytesIO()
    card.save(buffer, format="PNG")
    return buffer.getvalue()
