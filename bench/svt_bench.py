#!/usr/bin/env python3
"""Helper for svt_compare.sh: pick inputs, run the AVIF encode sweep, report.

Sub-commands
  select SRC_DIR N            print N opaque stems spread over the sorted names
  run CORPUS SRC_DIR STEMS... encode/decode/DSSIM every <stem>-<width>.png (idempotent:
                              rows already in results.csv with rc==0 are skipped)
  retime CORPUS               2nd timing pass of the same encodes (noise check) -> retime.csv
  sizes PNG                   which tiny/odd sizes each encoder refuses
  report [CORPUS...]          tables + matched-bytes / matched-DSSIM comparisons

Everything lives under $SVT_DIR (default /tmp/dropgen-bench/svt). Encoders run inside the Debian forky chroot
($SVT_DIR/root, libavif 1.4.2 + aom 3.14.1 + SVT-AV1 4.2.0); dssim runs on the host.
One process at a time, all under `nice -n 15`.
"""
import csv
import glob
import math
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import time

BASE = os.environ.get("SVT_DIR", "/tmp/dropgen-bench/svt")
ROOT = os.path.join(BASE, "root")          # chroot
CSV = os.path.join(BASE, "results.csv")
DSSIM = "/root/.cargo/bin/dssim"
NICE = ["nice", "-n", "15"]

# Common options: 4:2:0, 10-bit, one worker thread.
COMMON = ["-y", "420", "-d", "10", "-j", "1"]
# name -> (codec args, quality points). avifenc's -q maps differently per codec:
#   aom + tune=iq : libavif's tuneIqQualityToQuantizer table (q40->qp43, 48->39, 56->33, 64->27)
#   svt           : qp(=CRF) = ((100-q)*63+50)/100       (q32->43, 41->37, 50->32, 59->26)
# The SVT q points were picked in a pilot so both encoders span similar bytes.
CONFIGS = {
    "aom-s6-iq": (["-c", "aom", "-s", "6", "-a", "tune=iq"], [40, 48, 56, 64]),
    "svt-p4-iq": (["-c", "svt", "-s", "4", "-a", "tune=3"], [32, 41, 50, 59]),
    "svt-p5-iq": (["-c", "svt", "-s", "5", "-a", "tune=3"], [32, 41, 50, 59]),
    "svt-p6-iq": (["-c", "svt", "-s", "6", "-a", "tune=3"], [32, 41, 50, 59]),
    "svt-p8-iq": (["-c", "svt", "-s", "8", "-a", "tune=3"], [32, 41, 50, 59]),
}
REF = "aom-s6-iq"
FIELDS = ["corpus", "file", "width", "height", "config", "q", "rc", "bytes",
          "wall_s", "cpu_s", "dssim", "err"]


def png_info(path):
    """(width, height, has_alpha) from the PNG header (colour type 4/6 or a tRNS chunk)."""
    with open(path, "rb") as f:
        data = f.read()
    w, h, _bd, ct = struct.unpack(">IIBB", data[16:26])
    has_alpha = ct in (4, 6)
    pos = 8
    while pos + 8 <= len(data):                  # walk chunks looking for tRNS
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        if typ == b"tRNS":
            has_alpha = True
        if typ == b"IDAT" or typ == b"IEND":
            break
        pos += 12 + ln
    return w, h, has_alpha


def stems_of(src):
    st = {}
    for p in sorted(glob.glob(os.path.join(src, "*.png"))):
        m = re.match(r"(.+)-(\d+)\.png$", os.path.basename(p))
        if m:
            st.setdefault(m.group(1), []).append(p)
    return st


def cmd_select(src, n):
    st = stems_of(src)
    opaque = [s for s, ps in sorted(st.items()) if not any(png_info(p)[2] for p in ps)]
    skipped = [s for s in sorted(st) if s not in opaque]
    print(f"# {src}: {len(st)} stems, {len(opaque)} opaque, skipped (alpha): {' '.join(skipped)}",
          file=sys.stderr)
    if len(opaque) <= n:
        pick = opaque
    else:  # evenly spread over the sorted opaque names
        pick = [opaque[(i * len(opaque)) // n] for i in range(n)]
    print(" ".join(pick))


def load_rows():
    if not os.path.exists(CSV):
        return []
    with open(CSV) as f:
        return list(csv.DictReader(f))


def timed(cmd):
    """Run cmd, return (rc, wall seconds, child CPU seconds user+sys, stderr tail)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       errors="replace")
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p.returncode, wall, cpu, p.stderr


def cmd_run(corpus, src, stems):
    done = {(r["corpus"], r["file"], r["config"], r["q"]) for r in load_rows() if r["rc"] == "0"}
    new = not os.path.exists(CSV)
    out = open(CSV, "a", newline="")
    w = csv.DictWriter(out, fieldnames=FIELDS)
    if new:
        w.writeheader()
    inside_in = f"/work/in/{corpus}"
    os.makedirs(ROOT + inside_in, exist_ok=True)
    files = []
    for s in stems:
        for p in sorted(glob.glob(os.path.join(src, f"{s}-*.png"))):
            if not re.match(re.escape(s) + r"-\d+\.png$", os.path.basename(p)):
                continue
            dst = os.path.join(ROOT + inside_in, os.path.basename(p))
            if not os.path.exists(dst):
                shutil.copy2(p, dst)
            files.append(os.path.basename(p))
    print(f"[{corpus}] {len(files)} files x {sum(len(q) for _, q in CONFIGS.values())} encodes",
          flush=True)
    n = 0
    # Interleave configurations per file and quality index so that load from the other job
    # on this shared machine hits every configuration alike.
    for fn in files:
        wdt, hgt, _ = png_info(os.path.join(ROOT + inside_in, fn))
        for qi in range(4):
            for name, (args, qs) in CONFIGS.items():
                q = qs[qi]
                if (corpus, fn, name, str(q)) in done:
                    continue
                od = f"/work/out/{corpus}/{name}/q{q}"
                os.makedirs(ROOT + od, exist_ok=True)
                avif = f"{od}/{fn[:-4]}.avif"
                dec = f"{od}/{fn[:-4]}.dec.png"
                rc, wall, cpu, err = timed(NICE + ["chroot", ROOT, "avifenc"] + args + COMMON +
                                           ["-q", str(q), f"{inside_in}/{fn}", avif])
                row = dict(corpus=corpus, file=fn, width=wdt, height=hgt, config=name, q=q, rc=rc,
                           bytes="", wall_s=f"{wall:.4f}", cpu_s=f"{cpu:.4f}", dssim="", err="")
                if rc == 0:
                    row["bytes"] = os.path.getsize(ROOT + avif)
                    # decode to 8-bit RGB PNG (what a browser shows), fast PNG compression
                    drc, *_ , derr = timed(NICE + ["chroot", ROOT, "avifdec", "-j", "1", "-d", "8",
                                                   "--png-compress", "0", avif, dec])
                    if drc == 0:
                        d = subprocess.run(NICE + [DSSIM, ROOT + f"{inside_in}/{fn}", ROOT + dec],
                                           capture_output=True, text=True)
                        row["dssim"] = d.stdout.split()[0] if d.returncode == 0 else ""
                        if d.returncode:
                            row["err"] = "dssim: " + d.stderr.strip()[-200:]
                        os.remove(ROOT + dec)
                    else:
                        row["err"] = "avifdec: " + derr.strip()[-200:]
                else:
                    msg = " | ".join(l for l in err.splitlines()
                                     if re.search(r"error|ERROR|Invalid|fail", l))
                    row["err"] = msg[-300:]
                    print(f"  FAIL {name} q{q} {fn}: {row['err']}", flush=True)
                w.writerow(row)
                out.flush()
                n += 1
        print(f"  done {fn} ({n} new encodes)", flush=True)
    out.close()


# ---------------------------------------------------------------- timing repeat
RETIME = os.path.join(BASE, "retime.csv")


def cmd_retime(corpus):
    """Second timing pass (noise check): re-encode every successful row once more, same
    interleaved order, to a scratch file; record wall/CPU in retime.csv (idempotent)."""
    done = set()
    if os.path.exists(RETIME):
        with open(RETIME) as f:
            done = {(r["corpus"], r["file"], r["config"], r["q"]) for r in csv.DictReader(f)}
    rows = [r for r in load_rows() if r["corpus"] == corpus and r["rc"] == "0"]
    order = {n: i for i, n in enumerate(CONFIGS)}
    rows.sort(key=lambda r: (r["file"], CONFIGS[r["config"]][1].index(int(r["q"])),
                             order[r["config"]]))
    new = not os.path.exists(RETIME)
    with open(RETIME, "a", newline="") as out:
        w = csv.DictWriter(out, fieldnames=["corpus", "file", "config", "q", "rc", "wall_s", "cpu_s"])
        if new:
            w.writeheader()
        for r in rows:
            key = (r["corpus"], r["file"], r["config"], r["q"])
            if key in done:
                continue
            args, _ = CONFIGS[r["config"]]
            rc, wall, cpu, _ = timed(NICE + ["chroot", ROOT, "avifenc"] + args + COMMON +
                                     ["-q", r["q"], f"/work/in/{corpus}/{r['file']}",
                                      "/work/retime.avif"])
            w.writerow(dict(corpus=corpus, file=r["file"], config=r["config"], q=r["q"], rc=rc,
                            wall_s=f"{wall:.4f}", cpu_s=f"{cpu:.4f}"))
            out.flush()
    print(f"[{corpus}] retime done", flush=True)


def retime_summary(corpus):
    if not os.path.exists(RETIME):
        return
    with open(RETIME) as f:
        rt = [r for r in csv.DictReader(f) if r["corpus"] == corpus and r["rc"] == "0"]
    if not rt:
        return
    first = {(r["file"], r["config"], r["q"]): r for r in load_rows()
             if r["corpus"] == corpus and r["rc"] == "0"}
    print("\n  timing repeat (same encodes run a 2nd time): total wall s pass1 -> pass2, CPU s pass1 -> pass2")
    tot = {}
    for r in rt:
        a = first.get((r["file"], r["config"], r["q"]))
        if not a:
            continue
        t = tot.setdefault(r["config"], [0.0, 0.0, 0.0, 0.0, 0])
        t[0] += float(a["wall_s"]); t[1] += float(r["wall_s"])
        t[2] += float(a["cpu_s"]); t[3] += float(r["cpu_s"]); t[4] += 1
    for name in CONFIGS:
        if name in tot:
            t = tot[name]
            print(f"  {name:10} n={t[4]:3}  wall {t[0]:7.2f} -> {t[1]:7.2f} ({100 * (t[1] / t[0] - 1):+5.1f}%)"
                  f"   CPU {t[2]:7.2f} -> {t[3]:7.2f} ({100 * (t[3] / t[2] - 1):+5.1f}%)")
    if REF in tot:
        for name in CONFIGS:
            if name != REF and name in tot:
                print(f"  {name:10} total-time ratio vs {REF} (same q points, not matched quality):"
                      f" pass1 wall x{tot[name][0] / tot[REF][0]:.3f}, pass2 wall x{tot[name][1] / tot[REF][1]:.3f},"
                      f" pass1 CPU x{tot[name][2] / tot[REF][2]:.3f}, pass2 CPU x{tot[name][3] / tot[REF][3]:.3f}")


# ---------------------------------------------------------------- size limits
def cmd_sizes(src_png):
    """Try tiny / odd-sized crops with both encoders (aom s6 tune=iq, svt p6 tune=3) and
    print which ones each encoder refuses."""
    from PIL import Image
    d = ROOT + "/work/sizes"
    os.makedirs(d, exist_ok=True)
    im = Image.open(src_png).convert("RGB")
    sizes = [(1, 1), (2, 2), (3, 3), (4, 4), (7, 5), (8, 8), (15, 9), (16, 16), (17, 17),
             (63, 33), (64, 64), (65, 65), (401, 251)]
    print("  size      aom-s6-iq        svt-p6-iq")
    for (w, h) in sizes:
        fn = f"{d}/c{w}x{h}.png"
        im.crop((0, 0, w, h)).save(fn)
        res = []
        for name in ("aom-s6-iq", "svt-p6-iq"):
            args, _ = CONFIGS[name]
            rc, _, _, err = timed(NICE + ["chroot", ROOT, "avifenc"] + args + COMMON +
                                  ["-q", "50", f"/work/sizes/c{w}x{h}.png", "/work/sizes/o.avif"])
            msg = "ok" if rc == 0 else "REFUSED: " + " | ".join(
                l.strip() for l in err.splitlines() if re.search(r"rror|nvalid|fail", l))[:160]
            res.append(msg)
        print(f"  {w}x{h:<6} {res[0]:16} {res[1]}")


# ---------------------------------------------------------------- report
def interp(x, xs, ys):
    """Piecewise-linear y(x) on points sorted by x; None outside [min, max]."""
    pts = sorted(zip(xs, ys))
    if not pts or x < pts[0][0] - 1e-12 or x > pts[-1][0] + 1e-12:
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[0][1]


def bd(xa, ya, xb, yb, steps=200):
    """Mean of (yb - ya) over the overlapping x range (both piecewise-linear)."""
    lo, hi = max(min(xa), min(xb)), min(max(xa), max(xb))
    if hi <= lo:
        return None, None
    acc = 0.0
    for i in range(steps + 1):
        x = lo + (hi - lo) * i / steps
        acc += interp(x, xb, yb) - interp(x, xa, ya)
    return acc / (steps + 1), (lo, hi)


def fmt_ratio(r):
    return "   n/a  " if r is None else f"{r:7.3f}x"


def report(corpora):
    rows = load_rows()
    if not corpora:
        corpora = sorted({r["corpus"] for r in rows})
    for corpus in corpora:
        rs = [r for r in rows if r["corpus"] == corpus]
        fails = [r for r in rs if r["rc"] != "0" or not r["dssim"]]
        ok = [r for r in rs if r["rc"] == "0" and r["dssim"]]
        # Only files that every configuration encoded at every q point.
        need = sum(len(q) for _, q in CONFIGS.values())
        per_file = {}
        for r in ok:
            per_file.setdefault(r["file"], set()).add((r["config"], r["q"]))
        files = sorted(f for f, s in per_file.items() if len(s) == need)
        ok = [r for r in ok if r["file"] in files]
        stems = sorted({re.sub(r"-\d+\.png$", "", f) for f in files})
        print(f"\n=== corpus {corpus}: {len(files)} files ({len(stems)} images x widths), "
              f"{len(fails)} failed encodes/decodes")
        print("    images: " + " ".join(stems))
        for r in fails:
            print(f"    FAILED: {r['config']} q{r['q']} {r['file']} rc={r['rc']} {r['err']}")
        print(f"{'config':10} {'q':>3} {'total bytes':>12} {'mean DSSIM':>11} {'enc wall s':>10} "
              f"{'enc CPU s':>9}")
        curves = {}
        for name, (_, qs) in CONFIGS.items():
            pts = []
            for q in qs:
                sel = [r for r in ok if r["config"] == name and r["q"] == str(q)]
                if not sel:
                    continue
                b = sum(int(r["bytes"]) for r in sel)
                d = sum(float(r["dssim"]) for r in sel) / len(sel)
                tw = sum(float(r["wall_s"]) for r in sel)
                tc = sum(float(r["cpu_s"]) for r in sel)
                pts.append((b, d, tw, tc))
                print(f"{name:10} {q:>3} {b:>12,} {d:>11.6f} {tw:>10.2f} {tc:>9.2f}")
            curves[name] = pts
            if pts:
                print(f"{name:10} sum {'':>12} {'':>11} {sum(p[2] for p in pts):>10.2f} "
                      f"{sum(p[3] for p in pts):>9.2f}")
        ref = curves.get(REF)
        if not ref:
            continue
        lb = lambda pts: [math.log(p[0]) for p in pts]
        ld = lambda pts: [math.log(p[1]) for p in pts]
        lt = lambda pts, k: [math.log(p[k]) for p in pts]
        print(f"\n  vs {REF} at each of its points (log-log piecewise-linear interpolation of the other"
              f" curve; n/a = outside its range)")
        print(f"  {'config':10} {'aom pt':>14} | {'DSSIM ratio @same bytes':>23} | "
              f"{'bytes ratio @same DSSIM':>23} | {'wall ratio @same DSSIM':>22} | "
              f"{'CPU ratio @same DSSIM':>21}")
        for name, pts in curves.items():
            if name == REF or len(pts) < 2:
                continue
            for (b, d, tw, tc) in ref:
                dd = interp(math.log(b), lb(pts), ld(pts))
                bb = interp(math.log(d), ld(pts), lb(pts))
                tww = interp(math.log(d), ld(pts), lt(pts, 2))
                tcc = interp(math.log(d), ld(pts), lt(pts, 3))
                print(f"  {name:10} {b:>8,}B/{d:.5f} | {fmt_ratio(None if dd is None else math.exp(dd) / d):>23} | "
                      f"{fmt_ratio(None if bb is None else math.exp(bb) / b):>23} | "
                      f"{fmt_ratio(None if tww is None else math.exp(tww) / tw):>22} | "
                      f"{fmt_ratio(None if tcc is None else math.exp(tcc) / tc):>21}")
            # BD-style averages over the overlap.
            bdr, rng1 = bd(ld(ref), lb(ref), ld(pts), lb(pts))
            bdd, rng2 = bd(lb(ref), ld(ref), lb(pts), ld(pts))
            bdt, _ = bd(ld(ref), lt(ref, 2), ld(pts), lt(pts, 2))
            bdc, _ = bd(ld(ref), lt(ref, 3), ld(pts), lt(pts, 3))
            if bdr is not None:
                print(f"  {name:10} BD over overlapping DSSIM {math.exp(rng1[0]):.5f}..{math.exp(rng1[1]):.5f}: "
                      f"bytes {100 * (math.exp(bdr) - 1):+.1f}%, wall time x{math.exp(bdt):.3f}, "
                      f"CPU time x{math.exp(bdc):.3f}")
            if bdd is not None:
                print(f"  {name:10} BD over overlapping bytes {math.exp(rng2[0]):,.0f}..{math.exp(rng2[1]):,.0f}: "
                      f"DSSIM {100 * (math.exp(bdd) - 1):+.1f}% (negative = better)")
            # Per-file view: share of files where this config beats aom at matched DSSIM.
            wins = tot = 0
            for f in files:
                fr = sorted((int(r["bytes"]), float(r["dssim"])) for r in ok
                            if r["file"] == f and r["config"] == REF)
                fs = sorted((int(r["bytes"]), float(r["dssim"])) for r in ok
                            if r["file"] == f and r["config"] == name)
                v, _ = bd([math.log(x[1]) for x in fr], [math.log(x[0]) for x in fr],
                          [math.log(x[1]) for x in fs], [math.log(x[0]) for x in fs])
                if v is not None:
                    tot += 1
                    wins += v < 0
            print(f"  {name:10} per-file BD-rate: smaller than aom on {wins}/{tot} files with DSSIM overlap")
        # Per output width: BD-rate and time ratio at matched DSSIM (widths differ a lot in
        # how much fixed per-call overhead weighs).
        print(f"\n  per width (BD over each width's overlapping mean-DSSIM range; time = wall):")
        widths = sorted({int(re.search(r"-(\d+)\.png$", f).group(1)) for f in files})
        for wd in widths:
            sub = [r for r in ok if r["file"].endswith(f"-{wd}.png")]
            cv = {}
            for name, (_, qs) in CONFIGS.items():
                pts = []
                for q in qs:
                    sel = [r for r in sub if r["config"] == name and r["q"] == str(q)]
                    pts.append((sum(int(r["bytes"]) for r in sel),
                                sum(float(r["dssim"]) for r in sel) / len(sel),
                                sum(float(r["wall_s"]) for r in sel),
                                sum(float(r["cpu_s"]) for r in sel)))
                cv[name] = pts
            nf = len({r["file"] for r in sub})
            cells = []
            for name in CONFIGS:
                if name == REF:
                    continue
                br, _ = bd(ld(cv[REF]), lb(cv[REF]), ld(cv[name]), lb(cv[name]))
                bt, _ = bd(ld(cv[REF]), lt(cv[REF], 2), ld(cv[name]), lt(cv[name], 2))
                cells.append(f"{name}: " + ("n/a" if br is None else
                             f"bytes {100 * (math.exp(br) - 1):+5.1f}% time x{math.exp(bt):.2f}"))
            print(f"  w={wd:<5} ({nf:2} files, aom {sum(p[2] for p in cv[REF]) / (4 * nf):.3f} s/encode)  "
                  + " | ".join(cells))
        # Per image (all its widths summed): BD-rate vs aom, to see content dependence.
        print(f"\n  per image (bytes BD-rate vs {REF} at matched mean DSSIM over its widths; - = smaller):")
        for st in stems:
            sub = [r for r in ok if re.sub(r"-\d+\.png$", "", r["file"]) == st]
            nfs = len({r["file"] for r in sub})
            cv = {}
            for name, (_, qs) in CONFIGS.items():
                cv[name] = [(sum(int(r["bytes"]) for r in sub if r["config"] == name and r["q"] == str(q)),
                             sum(float(r["dssim"]) for r in sub if r["config"] == name and r["q"] == str(q)) / nfs)
                            for q in qs]
            cells = []
            for name in CONFIGS:
                if name == REF:
                    continue
                br, _ = bd(ld(cv[REF]), lb(cv[REF]), ld(cv[name]), lb(cv[name]))
                cells.append(f"{name} " + ("  n/a " if br is None else f"{100 * (math.exp(br) - 1):+5.1f}%"))
            print(f"  {st[:32]:32} " + "  ".join(cells))
        retime_summary(corpus)


if __name__ == "__main__":
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "select":
        cmd_select(a[1], int(a[2]))
    elif a[0] == "run":
        cmd_run(a[1], a[2], a[3:])
    elif a[0] == "sizes":
        cmd_sizes(a[1])
    elif a[0] == "retime":
        cmd_retime(a[1])
    elif a[0] == "report":
        report(a[1:])
    else:
        sys.exit(__doc__)
