#!/usr/bin/env python3
"""Rate–quality table of one bench/rate_quality.sh run: AVIF bytes and mean DSSIM of dropgen
(tuned, at three qualities; the libaom 3.12 and 3.11 fallbacks at the default) and of sharp (three
qualities), on the AVIF variants every point made. Prints a Markdown table, then one JSON line.
"Same-DSSIM bytes" is dropgen's bytes over what sharp would spend for dropgen's mean DSSIM,
interpolated (log-log) on sharp's curve: below 1 means smaller at equal quality.
Standard library only."""
import argparse, json, math, os

WORSE_FACTOR, WORSE_FLOOR = 2.0, 0.0005  # as bench/images_summary.py

ap = argparse.ArgumentParser()
ap.add_argument("runs")
ap.add_argument("--corpus", required=True)
ap.add_argument("--default-q", type=int, required=True)
a = ap.parse_args()


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def wall(name):
    try:
        with open(os.path.join(a.runs, name, "cold.time")) as f:
            return float(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def avif_only(records):
    return {k: v for k, v in (records or {}).items() if k.endswith(".avif")}


points = []  # (label, tool, quality, records, cold wall s)
for q in (40, 50, 60):
    recs = avif_only(load(os.path.join(a.runs, f"sharp-q{q}.json")))
    if recs:
        points.append((f"sharp q{q}", "sharp", q, recs, None))
for name, q in ((f"q{a.default_q - 8}", a.default_q - 8), ("default", a.default_q), (f"q{a.default_q + 8}", a.default_q + 8)):
    recs = avif_only(load(os.path.join(a.runs, name, "quality-dropgen-linear.json")))
    if recs:
        points.append((f"dropgen q{q}" + (" (default)" if name == "default" else ""), "dropgen", q, recs, wall(name)))
for name, label in (("fallback-3.12", "libaom 3.12 fallback"), ("fallback", "libaom 3.11 fallback")):
    fallback = avif_only(load(os.path.join(a.runs, name, "quality-dropgen-linear.json")))
    if fallback:
        points.append((f"dropgen q{a.default_q}, {label}", name, a.default_q, fallback, wall(name)))

common = set.intersection(*(set(p[3]) for p in points)) if points else set()
reference = next((p for p in points if p[0] == "sharp q50"), None)
if not common or reference is None:
    raise SystemExit("rate_quality.py: no AVIF variants common to every point (or no sharp q50 run)")
keys = sorted(common)


def totals(recs):
    return sum(recs[k]["bytes"] for k in keys), sum(recs[k]["dssim"] for k in keys) / len(keys)


sharp_curve = sorted((totals(p[3]) for p in points if p[1] == "sharp"), key=lambda t: t[1])


def sharp_bytes_at(dssim):
    """sharp's bytes for this mean DSSIM, log-log interpolated (extrapolated at the ends)."""
    if len(sharp_curve) < 2:
        return None
    pts = [(math.log(d), math.log(b)) for b, d in sharp_curve]
    x = math.log(dssim)
    lo, hi = (pts[0], pts[1]) if x <= pts[1][0] else (pts[-2], pts[-1])
    for i in range(len(pts) - 1):
        if pts[i][0] <= x <= pts[i + 1][0]:
            lo, hi = pts[i], pts[i + 1]
    if hi[0] == lo[0]:
        return math.exp(lo[1])
    return math.exp(lo[1] + (x - lo[0]) * (hi[1] - lo[1]) / (hi[0] - lo[0]))


ref_bytes, ref_dssim = totals(reference[3])
rows = []
for label, tool, q, recs, cold in points:
    b, d = totals(recs)
    worse = sum(
        1 for k in keys
        if recs[k]["dssim"] > WORSE_FACTOR * reference[3][k]["dssim"] and recs[k]["dssim"] > WORSE_FLOOR
    )
    same = sharp_bytes_at(d) if tool != "sharp" else None
    rows.append({
        "point": label, "tool": tool, "quality": q, "bytes": b, "mean_dssim": round(d, 6),
        "bytes_x_sharp": round(b / ref_bytes, 3), "dssim_x_sharp": round(d / ref_dssim, 3),
        "visibly_worse": worse if tool != "sharp" or q != 50 else 0,
        "same_dssim_bytes_x_sharp": round(b / same, 3) if same else None,
        "cold_wall_s": cold,
    })

print(f"\nAVIF rate–quality on {a.corpus}: {len(keys)} variants every point made; "
      f"× is against sharp's default (q50); DSSIM of dropgen against its linear-light reference\n")
print("| point | AVIF bytes | × sharp | mean DSSIM | × sharp | visibly worse | bytes at sharp's curve for the same DSSIM |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    same = f"{r['same_dssim_bytes_x_sharp']:.2f}×" if r["same_dssim_bytes_x_sharp"] else "—"
    print(f"| {r['point']} | {r['bytes']:,} | {r['bytes_x_sharp']:.2f}× | {r['mean_dssim']:.6f} | "
          f"{r['dssim_x_sharp']:.2f}× | {r['visibly_worse']} | {same} |")
print(json.dumps({"corpus": a.corpus, "variants": len(keys), "rows": rows}))
