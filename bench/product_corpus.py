#!/usr/bin/env python3
"""Builds a corpus of product photos on white, the pictures drop pages are full of.

Usage: bench/product_corpus.py OUT_DIR

It downloads Debian's `tuxpaint-stamps-default` (no install: `apt-get download`, unpacked in
a temporary folder), whose stamps include photographs of real objects cut out along their
outline (fruit, musical instruments, tools, a glass, a light bulb, a pie). Each of the objects
listed below is put, at its own resolution (nothing is upscaled), in the middle of a square
white canvas a third wider than its longest side, over a soft contact shadow, as a shop's
product shot is, and saved as a JPEG at quality 92: 32 images, 400 to 3,131 px wide.

Nothing in dropgen was tuned on these: `bench/images.sh OUT_DIR` judges settings chosen on
`dev` and `dev2`. Needs Pillow (`pip install pillow`).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageFilter

PACKAGE = "tuxpaint-stamps-default"
STAMPS = "usr/share/tuxpaint/stamps"

# The photographs of objects a shop could sell (the package also has drawings, and photos of
# animals, plants and vehicles) that are at least 300 px on their longest side, so that each
# shot has a 400-px variant.
PRODUCTS = [
    "animals/fish/lobster.png",
    "food/fruit/Apricot_whole.png",
    "food/fruit/Cherry_Stella.png",
    "food/fruit/Strawberry2.png",
    "food/fruit/avocado.png",
    "food/fruit/cherimoya.png",
    "food/fruit/orange_seville.png",
    "food/spices/ginger.png",
    "food/vegetables/corn.png",
    "hobbies/music/brass/trumpet.png",
    "hobbies/music/percussion/cymbal_crash.png",
    "hobbies/music/percussion/drum_tomtom_floor.png",
    "hobbies/music/string/cello.png",
    "hobbies/music/string/guitar2.png",
    "hobbies/music/string/guitar_classical.png",
    "hobbies/music/string/guitar_electric.png",
    "hobbies/music/string/guitar_electric_bass.png",
    "hobbies/music/wind/bassoon.png",
    "household/Lightbulb.png",
    "household/cylinder.png",
    "household/dishes/glass.png",
    "household/tools/cementmixer.png",
    "household/tools/spade.png",
    "medical/mercurythermometer.png",
    "medical/stethoscope.png",
    "medical/syringe.png",
    "seasonal/candle.png",
    "seasonal/christmas/Candy_cane_photo_1.png",
    "seasonal/christmas/German_Christmas_toy.png",
    "seasonal/christmas/Mince_Pie.png",
    "seasonal/christmas/Roast_turkey.png",
    "vehicles/wheel_tractor.png",
]


def product_shot(cutout: Image.Image) -> Image.Image:
    """The cutout centred on a white square a third wider than its longest side, over a soft
    shadow under it."""
    cutout = cutout.convert("RGBA")
    width, height = cutout.size
    side = round(max(width, height) * 4 / 3)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    left, top = (side - width) // 2, (side - height) // 2
    alpha = cutout.getchannel("A")
    # The shadow: the outline, blurred, a little below, at a fifth of black.
    shadow = Image.new("L", (side, side), 0)
    shadow.paste(alpha.point(lambda a: a // 5), (left, top + max(2, height // 40)))
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(2, side // 60)))
    canvas.paste((0, 0, 0), (0, 0), shadow)
    canvas.paste(cutout, (left, top), cutout)
    return canvas


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=temp, check=True, capture_output=True)
        deb = next(Path(temp).glob(f"{PACKAGE}_*.deb"))
        unpacked = Path(temp) / "unpacked"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        for name in PRODUCTS:
            with Image.open(unpacked / STAMPS / name) as cutout:
                shot = product_shot(cutout)
            stem = Path(name).stem.lower().replace("_", "-")
            shot.save(out / f"{stem}.jpg", quality=92, subsampling=0)
    print(f"products: {len(PRODUCTS)} images in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
