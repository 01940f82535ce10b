// `dropgen inventory report`'s page in Chromium, opened from a file at phone width: a short
// drop through the real service (buyers, an abandoned hold, a rate-limited bot, a pause and a
// resume, two beacons), stopped cleanly, then reported. The page must make no request but its
// own, log no error, fit 390 px without horizontal scrolling, and keep the chart labels
// readable. The screenshot goes to $DROPGEN_SCREENSHOTS (else the run's temporary folder).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { after, before } from "node:test";
import { open, setup, test } from "./support.mjs";

setup();

const BIN = process.env.DROPGEN_BIN;
const SHOP_KEY = "shop-secret-for-report-tests";
const OPERATOR_KEY = "operator-secret-for-report-tests";
let work;

/** Runs `dropgen ARGS` to completion (rejects with its output otherwise). */
function run(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`dropgen ${args.join(" ")}: ${code}\n${output}`))));
  });
}

/** `dropgen inventory serve` on a free port: the child and its base URL. */
function serve(cwd) {
  const env = { ...process.env, DROPGEN_INVENTORY_SHOP_KEY: SHOP_KEY, DROPGEN_INVENTORY_OPERATOR_KEY: OPERATOR_KEY };
  const child = spawn(BIN, ["inventory", "serve", "--config", "inventory.yaml", "--listen", "127.0.0.1:0"], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
  process.on("exit", () => child.exitCode === null && child.kill("SIGKILL"));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the inventory service did not start")), 30_000);
    child.on("exit", (code) => reject(new Error(`the inventory service exited with ${code}`)));
    createInterface({ input: child.stderr }).on("line", (line) => {
      const found = line.match(/^inventory: listening on (http:\/\/\S+)$/);
      if (found) {
        clearTimeout(timer);
        resolve({ child, base: found[1] });
      }
    });
  });
}

async function hold(base, customer) {
  const response = await fetch(`${base}/drops/launch/holds`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID(), cookie: `dropgen_customer=${customer}`, "x-forwarded-for": `203.0.113.${customer.length}` },
    body: JSON.stringify({ sku: "A", quantity: 1 }),
  });
  return { status: response.status, body: await response.json() };
}

/** A small drop, start to clean stop. */
async function drop(cwd) {
  const { child, base } = await serve(cwd);
  const operator = (action) => fetch(`${base}/drops/launch/${action}`, { method: "POST", headers: { authorization: `Bearer ${OPERATOR_KEY}` } });
  for (const customer of ["b1", "b22", "b333", "abandon", "bot", "bot", "bot", "bot"]) {
    const { status, body } = await hold(base, customer);
    if (status !== 201 || !customer.startsWith("b") || customer === "bot") continue;
    const token = new URL(body.checkout_url).searchParams.get("token");
    const confirmed = await fetch(`${base}/holds/${body.hold_id}/confirm`, {
      method: "POST",
      headers: { authorization: `Bearer ${SHOP_KEY}`, "content-type": "application/json", "idempotency-key": `pay-${body.hold_id}` },
      body: JSON.stringify({ token }),
    });
    assert.equal(confirmed.status, 200);
  }
  assert.equal((await operator("pause")).status, 200);
  assert.equal((await operator("resume")).status, 200);
  for (const beacon of [{ drop: "launch", event: "first_stock", ms: 420 }, { drop: "launch", event: "stock_error", code: "timeout" }]) {
    assert.equal((await fetch(`${base}/beacons`, { method: "POST", body: JSON.stringify(beacon) })).status, 204);
  }
  await new Promise((resolve) => setTimeout(resolve, 2_200)); // the abandoned holds expire
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
}

before(async () => {
  assert.ok(BIN, "DROPGEN_BIN is set by tests/browser/runner.rs");
  const parent = process.env.DROPGEN_OUT ? dirname(process.env.DROPGEN_OUT) : tmpdir();
  work = await mkdtemp(join(parent, "report-"));
  await run(["inventory", "keygen", "signing.pem"], work);
  const startsAt = new Date(Date.now() - 2_000).toISOString();
  await writeFile(join(work, "inventory.json"), JSON.stringify({ version: 1, drops: { launch: { starts_at: startsAt, ends_at: null,
    skus: { A: { stock: 5, limit_per_customer: 2, checkout_url: "https://shop.test/checkout" } } } } }));
  await writeFile(join(work, "inventory.yaml"), ["database: inventory.db", "catalog: inventory.json", "signing_keys: [signing.pem]",
    "hold_seconds: 1", "holds_per_customer_per_minute: 8", "trust_forwarded_for: true", ""].join("\n"));
  await drop(work);
  await run(["inventory", "report", "launch", "--database", "inventory.db", "--out", "report.html"], work);
}, { timeout: 90_000 });

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test("the report opens from a file at phone width: no request, no error, nothing overflows", async () => {
  const url = pathToFileURL(join(work, "report.html"));
  const requests = [];
  const failed = [];
  const { context, page, errors } = await open("", { viewport: { width: 390, height: 844 } }, async (page) => {
    page.on("request", (request) => requests.push(request.url()));
    page.on("requestfailed", (request) => failed.push(request.url()));
  }, url.href);
  try {
    await page.waitForLoadState("load");
    assert.deepEqual(requests, [url.href], "the page fetches nothing but itself");
    assert.deepEqual(failed, []);
    assert.deepEqual(errors, [], "no console errors (a CSP refusal would be one)");
    const layout = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      charts: [...document.querySelectorAll("svg")].map((svg) => {
        const box = svg.getBoundingClientRect();
        // The smallest axis label as drawn: its font size in SVG units, scaled to the screen.
        const sizes = [...svg.querySelectorAll("text")].map((text) => Number(text.getAttribute("font-size")));
        return { left: box.left, right: box.right, smallest: (Math.min(...sizes) * box.width) / svg.viewBox.baseVal.width };
      }),
      tables: document.querySelectorAll("table caption").length,
      styled: getComputedStyle(document.body).maxWidth !== "none",
    }));
    assert.ok(layout.scroll <= layout.width, `the page scrolls sideways: ${layout.scroll} > ${layout.width}`);
    assert.equal(layout.charts.length, 6);
    for (const chart of layout.charts) {
      assert.ok(chart.left >= 0 && chart.right <= layout.width, JSON.stringify(chart));
      assert.ok(chart.smallest >= 7, `chart text ${chart.smallest.toFixed(1)} px at phone width`);
    }
    assert.equal(layout.tables, 6, "a data table for each chart");
    assert.ok(layout.styled, "the inline stylesheet applies (its hash is in the page's CSP)");
    const shots = process.env.DROPGEN_SCREENSHOTS || work;
    const image = await page.screenshot({ path: join(shots, "report-390.png"), fullPage: true });
    assert.ok(image.length > 10_000);
  } finally {
    await context.close();
  }
});
