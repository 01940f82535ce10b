#!/usr/bin/env python3
"""Linear-light Lanczos3 reference resizes, the counterpart of ../shared/bench/mkref.js.

mkref.js resizes in gamma space (what sharp does); dropgen resizes in linear light, which keeps
the brightness of fine detail and so differs from a gamma-space resize by about as much as a
good encoder's own error on detailed photos. Scoring dropgen's variants against these
references measures its encoders, not the choice of resize.

usage: linref.py CORPUS_DIR REF_DIR   (writes <stem>-<width>.png at 400/800/1200/1600, no
upscaling, EXIF-oriented, heights rounded as sharp rounds them; needs Pillow and NumPy)
"""
import os, sys

import numpy as np
from PIL import Image, ImageOps

WIDTHS = (400, 800, 1200, 1600)


def to_linear(a):
    return np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


def to_srgb(a):
    a = np.clip(a, 0.0, 1.0)
    return np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055)


def resize_plane(plane, size):
    return np.asarray(Image.fromarray(plane.astype(np.float32), "F").resize(size, Image.LANCZOS))


def main(src, out):
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        image = ImageOps.exif_transpose(Image.open(os.path.join(src, name)))
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
        pixels = np.asarray(image).astype(np.float64) / 255.0
        colour = to_linear(pixels[:, :, :3])
        if alpha:  # premultiplied, as dropgen resizes
            colour = colour * pixels[:, :, 3:4]
        for width in WIDTHS:
            if width > image.width:
                continue
            size = (width, max(1, round(image.height * width / image.width)))
            planes = [resize_plane(colour[:, :, c], size) for c in range(3)]
            result = np.stack(planes, -1)
            if alpha:
                a = np.clip(resize_plane(pixels[:, :, 3], size), 0.0, 1.0)
                result = np.where(a[:, :, None] > 0, result / np.maximum(a[:, :, None], 1e-6), 0.0)
                result = np.concatenate([to_srgb(result), a[:, :, None]], -1)
            else:
                result = to_srgb(result)
            stem = os.path.splitext(name)[0]
            Image.fromarray((result * 255.0 + 0.5).astype(np.uint8)).save(
                os.path.join(out, f"{stem}-{width}.png"), compress_level=1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
