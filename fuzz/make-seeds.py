#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the repository's fixtures; run from anywhere, commit the result.

YAML: the site's and the fixture sites' `dropgen.yaml` + each `drop.yaml` (as `<config>\\0<drop>`),
and the drops alone. Markdown: every `description` block of those drops. Images: each fixture
image shrunk to 16 px wide, keeping its format, ICC profile and EXIF, plus a few kinds the
fixtures lack (progressive, grey, CMYK, 16-bit, palette, WebP with alpha). Manifests: the
expected manifest of the build fixture. Needs Pillow (python3 -m pip install pillow).
"""
import glob, hashlib, io, json, os, re, shutil
from PIL import Image, ImageCms

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
seeds = os.path.join(root, "fuzz", "seeds")
MAX_SEED = 6000  # bytes: seeds stay small, so the fuzzer's inputs do too


def put(target, data):
    if len(data) > MAX_SEED:
        return
    folder = os.path.join(seeds, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha256(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


shutil.rmtree(seeds, ignore_errors=True)
sites = [root] + sorted(glob.glob(f"{root}/examples/*/")) + sorted(glob.glob(f"{root}/tests/fixtures/*/*/"))
for site in sites:
    config_path = os.path.join(site, "dropgen.yaml")
    config = open(config_path, "rb").read() if os.path.exists(config_path) else b""
    for drop in sorted(glob.glob(os.path.join(site, "drops", "*", "drop.yaml"))):
        text = open(drop, "rb").read()
        put("site_texts", text)
        if config:
            put("site_texts", config + b"\0" + text)
        for block in re.findall(rb"description: \|\n((?:(?:  +.*)?\n)+)", text):
            put("markdown", b"\n".join(line.strip() for line in block.split(b"\n")))
put("markdown", b"# Title\n\n<script>alert(1)</script><img src=x onerror=alert(1)>\n\n"
    b"[x](javascript:alert(1)) <a href=\"java&#09;script:x\">y</a>\n\n| a | b |\n|---|---|\n| ~~c~~ | \"d\" |\n")

for path in sorted(glob.glob(f"{root}/**/*.jpg", recursive=True) + glob.glob(f"{root}/**/*.png", recursive=True)):
    if "/target" in path or "/node_modules/" in path or "/fuzz/" in path:
        continue
    image = Image.open(path)
    extra = {k: image.info[k] for k in ("icc_profile", "exif") if image.info.get(k)}
    image.thumbnail((16, 16))
    out = io.BytesIO()
    image.save(out, format=image.format or ("PNG" if path.endswith(".png") else "JPEG"), **extra)
    put("image", out.getvalue())

srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
exif = Image.Exif()
exif[0x0112] = 6  # Orientation: rotate 90°
small = Image.new("RGB", (12, 8), (200, 60, 20))
for fmt, image, kwargs in [
    ("JPEG", small, {"progressive": True, "icc_profile": srgb, "exif": exif.tobytes()}),
    ("JPEG", small.convert("L"), {}),
    ("JPEG", small.convert("CMYK"), {}),
    ("PNG", Image.new("I;16", (6, 4), 40000), {}),
    ("PNG", small.convert("P"), {"icc_profile": srgb}),
    ("PNG", Image.new("RGBA", (6, 4), (1, 2, 3, 100)), {"exif": exif.tobytes()}),
    ("WEBP", small, {"quality": 50, "icc_profile": srgb, "exif": exif.tobytes()}),
    ("WEBP", Image.new("RGBA", (6, 4), (1, 2, 3, 100)), {"lossless": True}),
]:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    put("image", out.getvalue())

for manifest in sorted(glob.glob(f"{root}/tests/fixtures/**/manifest.json", recursive=True)):
    whole = json.load(open(manifest))
    # A few files of each cache class, and the siblings' originals, keep the seed small.
    for keep in (2, 6):
        files = dict(sorted(whole["files"].items())[::max(1, len(whole["files"]) // keep)])
        small = dict(whole, files=files, upload_order=[p for p in whole["upload_order"] if p in files])
        put("previous_manifest", json.dumps(small, indent=2, sort_keys=True).encode() + b"\n")
