#!/usr/bin/env python3
"""Summary of one bench/images.sh run: a table on stdout, then one JSON line (also written to
RESULTS/summary.json). Reads RESULTS/{cold,warm,sharp}.time ("<wall s> <peak RSS KiB>"),
RESULTS/sharp.json (peer_sharp.js's line), RESULTS/quality-{dropgen,dropgen-linear,sharp}.json
(quality.py --records; dropgen-linear is against bench/linref.py's references) and the variant files themselves (bytes; pixel sizes read from the file headers).
Ratios are dropgen / sharp on the variants both tools made (same stem, width and format).
Standard library only."""
import argparse, json, os, re, struct, sys

FORMATS = ("avif", "webp")
WORSE_FACTOR, WORSE_FLOOR = 2.0, 0.0005  # "visibly worse": DSSIM > 2x sharp's and > 0.0005

ap = argparse.ArgumentParser()
ap.add_argument("--corpus", required=True)
ap.add_argument("--limit", type=int, default=0)
ap.add_argument("--images", type=int, default=0)
ap.add_argument("--results", required=True)
ap.add_argument("--dropgen-img", required=True)
ap.add_argument("--sharp-out", default="")
a = ap.parse_args()
R = a.results


def read_time(name):
    try:
        with open(os.path.join(R, name + ".time")) as f:
            line = [l for l in f.read().split("\n") if l.strip()][-1].split()
        return {"wall_s": float(line[0]), "peak_rss_mib": round(int(line[1]) / 1024, 1)}
    except (OSError, IndexError, ValueError):
        return None


def read_json(name):
    try:
        with open(os.path.join(R, name)) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def dims(path):
    """(width, height) from the header of an AVIF, WebP, PNG or JPEG file, else None."""
    try:
        with open(path, "rb") as f:
            b = f.read(1 << 16)
        if b[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", b[16:24])
        if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
            kind = b[12:16]
            if kind == b"VP8 ":
                w, h = struct.unpack("<HH", b[26:30])
                return w & 0x3FFF, h & 0x3FFF
            if kind == b"VP8L":
                bits = struct.unpack("<I", b[21:25])[0]
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            if kind == b"VP8X":
                return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
            return None
        if b[4:8] == b"ftyp":  # AVIF: first 'ispe' (image spatial extents) property
            i = b.find(b"ispe")
            return struct.unpack(">II", b[i + 8:i + 16]) if i >= 0 else None
        if b[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(b):
                if b[i] != 0xFF:
                    i += 1
                    continue
                marker = b[i + 1]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", b[i + 5:i + 9])
                    return w, h
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                i += 2 + struct.unpack(">H", b[i + 2:i + 4])[0]
    except (OSError, struct.error):
        pass
    return None


OURS = re.compile(r"^(?P<stem>.+)-(?P<hash>[0-9a-f]{10})-(?P<w>\d+)\.(?P<ext>avif|webp|jpg|png)$")
PEER = re.compile(r"^(?P<stem>.+)-(?P<w>\d+)\.(?P<ext>avif|webp)$")


def variants(folder, pattern):
    """key '<stem>-<width>.<ext>' -> {bytes, mp}; and the count of files that are no variant."""
    found, other = {}, 0
    if not folder or not os.path.isdir(folder):
        return found, other
    for root, _, files in os.walk(folder):
        for name in files:
            m = pattern.match(name)
            if not m:
                other += 1
                continue
            path = os.path.join(root, name)
            d = dims(path)
            found[f"{m['stem']}-{m['w']}.{m['ext']}"] = {
                "bytes": os.path.getsize(path),
                "mp": d[0] * d[1] / 1e6 if d else None,
            }
    return found, other


def per_format(found, secs):
    out = {}
    for key, v in found.items():
        e = out.setdefault(key.rsplit(".", 1)[1], {"variants": 0, "bytes": 0, "output_mp": 0.0})
        e["variants"] += 1
        e["bytes"] += v["bytes"]
        e["output_mp"] += v["mp"] or 0.0
    for e in out.values():
        e["output_mp"] = round(e["output_mp"], 2)
    mp = sum(out[f]["output_mp"] for f in FORMATS if f in out)
    return out, round(mp, 2), (round(mp / secs, 3) if secs and mp else None)


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def ratio(x, y):
    return round(x / y, 3) if x is not None and y else None


cold, warm, sharp_t = read_time("cold"), read_time("warm"), read_time("sharp")
sharp_json = read_json("sharp.json")
q_ours, q_peer = read_json("quality-dropgen.json"), read_json("quality-sharp.json")
q_lin = read_json("quality-dropgen-linear.json")  # dropgen against linear-light references
ours, ours_other = variants(a.dropgen_img, OURS)
peer, _ = variants(a.sharp_out, PEER) if a.sharp_out else ({}, 0)
ours_fmt, ours_mp, ours_mps = per_format(ours, cold and cold["wall_s"])
peer_fmt, peer_mp, peer_mps = per_format(peer, sharp_t and sharp_t["wall_s"])

try:
    with open(os.path.join(R, "cold-files.txt")) as f1, open(os.path.join(R, "warm-files.txt")) as f2:
        warm_same = f1.read() == f2.read()
except OSError:
    warm_same = None

compare = {}
for fmt in FORMATS:
    keys = sorted(k for k in ours if k.endswith("." + fmt) and k in peer)
    c = {"common_variants": len(keys)}
    if peer:  # variants one tool made and the other did not (dropgen may drop an AVIF larger than its WebP)
        c["only_sharp"] = sorted(k for k in peer if k.endswith("." + fmt) and k not in ours)
        c["only_dropgen"] = sorted(k for k in ours if k.endswith("." + fmt) and k not in peer)
    if keys:
        c["bytes_dropgen"] = sum(ours[k]["bytes"] for k in keys)
        c["bytes_sharp"] = sum(peer[k]["bytes"] for k in keys)
        c["bytes_ratio"] = ratio(c["bytes_dropgen"], c["bytes_sharp"])
    if q_ours is not None and q_peer is not None:
        qk = [k for k in keys if k in q_ours and k in q_peer]
        c["dssim_variants"] = len(qk)
        if qk:
            d_o, d_p = mean([q_ours[k]["dssim"] for k in qk]), mean([q_peer[k]["dssim"] for k in qk])
            c["dssim_dropgen"], c["dssim_sharp"] = round(d_o, 6), round(d_p, 6)
            c["dssim_ratio"] = ratio(d_o, d_p)
            worse = [k for k in qk if q_ours[k]["dssim"] > WORSE_FACTOR * q_peer[k]["dssim"]
                     and q_ours[k]["dssim"] > WORSE_FLOOR]
            c["visibly_worse"] = len(worse)
            c["visibly_worse_list"] = worse
    if q_lin is not None and q_peer is not None:
        # Each tool against a reference resized the way it resizes: the encoders' own error.
        qk = [k for k in keys if k in q_lin and k in q_peer]
        if qk:
            d_o, d_p = mean([q_lin[k]["dssim"] for k in qk]), mean([q_peer[k]["dssim"] for k in qk])
            c["own_ref_dssim_dropgen"], c["own_ref_dssim_ratio"] = round(d_o, 6), ratio(d_o, d_p)
            c["own_ref_dssim_sharp"] = round(d_p, 6)
            worse = [k for k in qk if q_lin[k]["dssim"] > WORSE_FACTOR * q_peer[k]["dssim"]
                     and q_lin[k]["dssim"] > WORSE_FLOOR]
            c["own_ref_visibly_worse_list"] = worse
    compare[fmt] = c


def quality_means(q):
    if q is None:
        return None
    out = {}
    for fmt in FORMATS:
        xs = [v["dssim"] for k, v in q.items() if k.endswith("." + fmt)]
        out[fmt] = {"n": len(xs), "dssim": round(mean(xs), 6) if xs else None}
    return out


summary = {
    "bench": "images",
    "corpus": a.corpus,
    "images": a.images or None,
    "dropgen": {
        "cold": cold, "warm": warm,
        "warm_over_cold": ratio(warm and warm["wall_s"], cold and cold["wall_s"]),
        "warm_output_same_as_cold": warm_same,
        "formats": ours_fmt, "other_files": ours_other,
        "output_mp_avif_webp": ours_mp, "mp_per_s_cold": ours_mps,
        "dssim": quality_means(q_ours),
        "dssim_own_ref": quality_means(q_lin),
    },
    "sharp": None if sharp_t is None else {
        "peer": sharp_json and sharp_json.get("peer"),
        "wall_s": sharp_t["wall_s"], "peak_rss_mib": sharp_t["peak_rss_mib"],
        "internal_s": sharp_json and sharp_json.get("seconds"),
        "formats": peer_fmt, "output_mp": peer_mp, "mp_per_s": peer_mps,
        "dssim": quality_means(q_peer),
    },
    "speed_sharp_over_dropgen_cold": ratio(sharp_t and sharp_t["wall_s"], cold and cold["wall_s"]),
    "compare": compare,
}


def fmt(x, spec="{}", none="n/a"):
    return none if x is None else spec.format(x)


rows = []
add = lambda label, value: rows.append((label, value))
add("corpus", f"{a.corpus}, {a.images} images" + (f" (first {a.limit})" if a.limit else ""))
add("dropgen cold wall s", fmt(cold and cold["wall_s"], "{:.2f}"))
add("dropgen warm wall s", fmt(warm and warm["wall_s"], "{:.2f}"))
add("warm / cold", fmt(summary["dropgen"]["warm_over_cold"], "{:.1%}"))
add("warm output same as cold", fmt(warm_same))
add("dropgen peak RSS MiB (cold / warm)",
    f"{fmt(cold and cold['peak_rss_mib'])} / {fmt(warm and warm['peak_rss_mib'])}")
add("dropgen output MP (avif+webp), MP/s cold", f"{ours_mp} , {fmt(ours_mps)}")
for f_, e in sorted(ours_fmt.items()):
    add(f"dropgen {f_}: variants, bytes, MP", f"{e['variants']}, {e['bytes']:,}, {e['output_mp']}")
if ours_other:
    add("dropgen files in _img that are no variant", str(ours_other))
if sharp_t:
    add("sharp wall s (peer's own)", f"{sharp_t['wall_s']:.2f} ({fmt(sharp_json and sharp_json.get('seconds'))})")
    add("sharp peak RSS MiB", fmt(sharp_t["peak_rss_mib"]))
    add("sharp output MP, MP/s", f"{peer_mp} , {fmt(peer_mps)}")
    for f_, e in sorted(peer_fmt.items()):
        add(f"sharp {f_}: variants, bytes, MP", f"{e['variants']}, {e['bytes']:,}, {e['output_mp']}")
    add("speed: sharp wall / dropgen cold wall", fmt(summary["speed_sharp_over_dropgen_cold"], "{:.2f}x"))
elif peer:
    add("sharp", "not run: bytes and DSSIM from an earlier run, no time")
if peer:
    served = {t: sum(e["bytes"] for f_, e in fs.items() if f_ in FORMATS) for t, fs in (("ours", ours_fmt), ("peer", peer_fmt))}
    summary["total_bytes_ratio"] = ratio(served["ours"], served["peer"])
    add("avif+webp bytes, every variant each made", f"{summary['total_bytes_ratio']:.3f} ({served['ours']:,} / {served['peer']:,})")
for tool, q in (("dropgen", summary["dropgen"]["dssim"]), ("sharp", summary["sharp"] and summary["sharp"]["dssim"])):
    if q:
        add(f"{tool} mean DSSIM (all its variants)",
            ", ".join(f"{k} {fmt(v['dssim'], '{:.6f}')} (n={v['n']})" for k, v in q.items()))
for f_, c in compare.items():
    if not peer:
        break
    add(f"{f_}: common variants", str(c["common_variants"]))
    for side in ("only_sharp", "only_dropgen"):
        if c.get(side):
            names = ", ".join(c[side][:6]) + (", ..." if len(c[side]) > 6 else "")
            add(f"{f_}: {side.replace('_', ' ')}", f"{len(c[side])} ({names})")
    if c["common_variants"]:
        add(f"{f_}: bytes dropgen/sharp", f"{c['bytes_ratio']:.3f} ({c['bytes_dropgen']:,} / {c['bytes_sharp']:,})")
    if c.get("dssim_variants"):
        add(f"{f_}: DSSIM dropgen/sharp", f"{c['dssim_ratio']:.3f} ({c['dssim_dropgen']:.6f} / {c['dssim_sharp']:.6f})")
        add(f"{f_}: variants DSSIM > 2x sharp and > 0.0005", str(c["visibly_worse"]))
        for k in c["visibly_worse_list"][:10]:
            add("", f"  {k}: {q_ours[k]['dssim']:.6f} vs {q_peer[k]['dssim']:.6f}")
    if c.get("own_ref_dssim_ratio") is not None:
        add(f"{f_}: DSSIM, each against its own resize", f"{c['own_ref_dssim_ratio']:.3f} "
            f"({c['own_ref_dssim_dropgen']:.6f} vs linear-light ref / {c['own_ref_dssim_sharp']:.6f} vs gamma ref)")
        add(f"{f_}: ... variants > 2x sharp and > 0.0005", str(len(c["own_ref_visibly_worse_list"])))
        for k in c["own_ref_visibly_worse_list"][:10]:
            add("", f"  {k}: {q_lin[k]['dssim']:.6f} vs {q_peer[k]['dssim']:.6f}")
width = max(len(r[0]) for r in rows)
print()
print("image benchmark summary (ratios are dropgen / sharp on common variants unless said)")
for label, value in rows:
    print(f"  {label:<{width}}  {value}")
if not any(f in ours_fmt for f in FORMATS):
    print("  note: dropgen wrote no AVIF/WebP variants (<stem>-<hash10>-<width>.<ext>) under _img")
line = json.dumps(summary, sort_keys=True)
with open(os.path.join(R, "summary.json"), "w") as f:
    f.write(line + "\n")
print("BENCH_JSON " + line)
