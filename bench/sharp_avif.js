// sharp's AVIF at a chosen quality, for bench/rate_quality.sh's rate–quality curve: the same
// variants as ../shared/bench/peer_sharp.js makes (its widths, no upscaling, EXIF rotation,
// effort 4, chroma 4:4:4), named <stem>-<width>.avif, with AVIF quality Q instead of 50.
// usage: node sharp_avif.js CORPUS_DIR OUT_DIR Q [WIDTHS] [POOL]   (needs NODE_PATH to sharp)
// Prints one JSON line: wall seconds, variants and bytes.
const fs = require('fs'), path = require('path');
const sharp = require('sharp');
const [corpus, out, q, ws = '400,800,1200,1600', pool = '2'] = process.argv.slice(2);
if (!corpus || !out || !q) { console.error('usage: node sharp_avif.js CORPUS_DIR OUT_DIR Q [WIDTHS] [POOL]'); process.exit(2); }
const quality = Number(q), widths = ws.split(',').map(Number);
sharp.cache(false);
fs.mkdirSync(out, { recursive: true });

(async () => {
  const t0 = process.hrtime.bigint();
  const files = fs.readdirSync(corpus).filter(f => /\.(jpe?g|png)$/i.test(f)).sort();
  const jobs = [];
  for (const f of files) {
    const src = path.join(corpus, f);
    const m = await sharp(src).metadata();
    const w0 = (m.orientation || 1) >= 5 ? m.height : m.width;
    for (const w of widths) if (w <= w0) jobs.push({ src, f, w });
  }
  let next = 0, bytes = 0;
  async function worker() {
    while (next < jobs.length) {
      const { src, f, w } = jobs[next++];
      const info = await sharp(src).rotate().resize({ width: w }).avif({ quality })
        .toFile(path.join(out, `${path.parse(f).name}-${w}.avif`));
      bytes += info.size;
    }
  }
  await Promise.all(Array.from({ length: Number(pool) }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ quality, wall_s: +secs.toFixed(2), variants: jobs.length, bytes }));
})().catch(e => { console.error(e); process.exit(1); });
