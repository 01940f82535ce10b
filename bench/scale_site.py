#!/usr/bin/env python3
"""Writes a generated dropgen site of N drops for bench/scale.sh (standard library only).

Each drop has one small unique PNG (a gradient seeded by the drop's number), three products
and markdown copy, like a large shop's catalogue of micro-drops. The same N always gives the
same bytes, so runs are comparable.

Usage: scale_site.py DIR N [--edit K]   (--edit K changes only drop K's title)
"""

import argparse
import struct
import zlib
from pathlib import Path

SIZE = 96  # pixels per side: small enough that the image stage does not dominate


def png(seed: int) -> bytes:
    """A SIZE × SIZE RGB gradient whose colours follow from `seed`: a different image for
    every seed below 251² (63,001)."""
    r0, g0, b0 = seed % 251, (seed // 251) % 251, (seed * 53) % 256
    rows = b"".join(
        b"\x00" + bytes(c for x in range(SIZE) for c in ((r0 + x) % 256, (g0 + y) % 256, (b0 + x + y) % 256))
        for y in range(SIZE)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def drop_yaml(n: int, edited: bool) -> str:
    title = f"Drop {n:05d}" + (" (edited)" if edited else "")
    products = "".join(
        f"""  - sku: SCALE-{n:05d}-{p}
    name: "Item {p} of drop {n}"
    price: {10 + p}.{n % 100:02d}
    description: "Colourway {p}: *limited* to {100 + n % 50} pieces."
"""
        for p in range(1, 4)
    )
    return f"""title: "{title}"
summary: "Generated drop number {n} for the scale benchmark."
starts_at: 2026-01-01T00:00:00Z
ends_at: 2099-01-01T00:00:00Z
hero:
  src: hero.png
  alt: "Gradient number {n}"
description: |
  ## Drop {n}

  A **generated** drop with a list:

  - first point about drop {n}
  - second point, with a [link](https://example.com/{n})

  And a closing paragraph that is long enough to look like real copy for a product page.
products:
{products}"""


CONFIG = """base_url: https://scale.example
title: dropgen scale benchmark
currency: USD
locale: en-US
inventory_api: https://inventory.scale.example/v1
checkout_url: https://scale.example/buy?sku={sku}
images:
  widths: [96]
  formats: [avif, webp]
"""


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("dir", type=Path)
    args.add_argument("n", type=int)
    args.add_argument("--edit", type=int, default=None)
    opts = args.parse_args()
    root: Path = opts.dir
    (root / "drops").mkdir(parents=True, exist_ok=True)
    (root / "dropgen.yaml").write_text(CONFIG)
    for n in range(1, opts.n + 1):
        folder = root / "drops" / f"drop-{n:05d}"
        folder.mkdir(exist_ok=True)
        text = drop_yaml(n, edited=opts.edit == n)
        path = folder / "drop.yaml"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        image = folder / "hero.png"
        if not image.exists():
            image.write_bytes(png(n))


if __name__ == "__main__":
    main()
