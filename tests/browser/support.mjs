// What the specs share: the browser, the mock's knobs, and page helpers. Started by
// tests/browser/runner.rs, which passes DROPGEN_URL (the pages' origin, http://127.0.0.1:PORT)
// and DROPGEN_CHROMIUM. The mock inventory API is on another origin (http://localhost:PORT2),
// as a real one is; the pages are pointed at it by `dropgen serve`.
import { after, before, beforeEach, test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const BASE = process.env.DROPGEN_URL;
export const SHOP = "https://shop.browser.invalid/checkout";
export const NA = "Live stock is unavailable";
export const HANDOVER = "Still busy: taking you to checkout…";
export const HOLDING = "Reserving yours…";
export const stock = (sku) => `[data-sku="${sku}"] [data-stock]`;
export const buy = (sku) => `[data-sku="${sku}"] [data-buy]`;
export const PHASE = "[data-drop] [data-phase-label]";

let browser;

/** A test that fails after 60 s whatever it waits for (`--test-timeout` would bound the whole
 * file, which runs many tests). */
export const test = (name, body) => nodeTest(name, { timeout: 60_000 }, body);

/** Launches Chromium for the spec file, resets the mock before each test. */
export function setup() {
  before(async () => {
    assert.ok(BASE, "DROPGEN_URL is set by tests/browser/runner.rs");
    browser = await chromium.launch({
      executablePath: process.env.DROPGEN_CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    });
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    await mock({ reset: "true", state: "scheduled", fault: "none", server_time: new Date().toISOString() });
  });
}

/** Sets the mock's knobs (see src/serve/mock_http.rs); returns its state and holds. */
export async function mock(params) {
  const response = await fetch(`${BASE}/_dropgen/mock?${new URLSearchParams(params)}`);
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

/**
 * Opens a page in a fresh context. `errors` collects uncaught errors and console errors,
 * `beacons` the telemetry, `statuses` every text a product's stock line showed (recorded in
 * the page as it changes, so a message shown just before a navigation is not missed), and
 * `shifts` every layout-shift entry from the first paint on.
 */
export async function open(path, options = {}, setup = async () => {}, base = BASE) {
  const context = await browser.newContext(options);
  // Nothing leaves the machine: the stream host fails, the static checkout is answered here.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|localhost[:/])/, (route) => route.abort("internetdisconnected"));
  await context.route(`${SHOP}**`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><h1>Static checkout</h1>" }));
  const beacons = [];
  await context.route("https://telemetry.browser.invalid/**", (route) => {
    beacons.push(JSON.parse(route.request().postData()));
    return route.fulfill({ status: 204 });
  });
  const statuses = [];
  const shifts = [];
  await context.exposeBinding("recordStatus", (_source, text) => statuses.push(text));
  await context.exposeBinding("recordShift", (_source, entry) => shifts.push(entry));
  await context.addInitScript(() => {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const sources = (entry.sources || []).map((source) => source.node?.outerHTML?.slice(0, 80) ?? "?");
        window.recordShift({ value: entry.value, hadRecentInput: entry.hadRecentInput, sources, url: location.pathname });
      }
    }).observe({ type: "layout-shift", buffered: true });
    addEventListener("DOMContentLoaded", () => {
      for (const line of document.querySelectorAll("[data-stock]")) {
        new MutationObserver(() => window.recordStatus(line.textContent)).observe(line, { childList: true, characterData: true, subtree: true });
      }
    });
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(`uncaught: ${error}`));
  page.on("console", (message) => {
    // Failed requests (and CORS refusals, which tests provoke) are logged by the browser
    // itself; anything else is the script's fault.
    if (message.type() === "error" && !/Failed to load resource|blocked by CORS policy/.test(message.text())) {
      errors.push(`console: ${message.text()}`);
    }
  });
  await setup(page);
  await page.goto(base + path);
  return { context, page, errors, beacons, statuses, shifts };
}

export async function waitUntil(what, condition, timeout = 10_000) {
  const end = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function waitForText(page, selector, pattern, timeout = 10_000) {
  try {
    await page.waitForFunction(
      ([selector, source]) => new RegExp(source).test(document.querySelector(selector)?.textContent ?? ""),
      [selector, pattern.source],
      { timeout },
    );
  } catch {
    const actual = await page.locator(selector).first().textContent().catch(() => "(missing)");
    assert.fail(`${selector} never matched ${pattern} within ${timeout} ms; it says ${JSON.stringify(actual)}`);
  }
}

/**
 * Clicks a buy link from inside the page and returns what the page shows when the click
 * handler returns, before any network answer: the working state is set in the same task as
 * the click, so it is on screen at the next frame, well within 100 ms.
 */
export function clickAndRead(page, sku) {
  return page.evaluate((sku) => {
    const product = document.querySelector(`[data-sku="${sku}"]`);
    const link = product.querySelector("[data-buy]");
    link.click();
    return { busy: link.getAttribute("aria-busy"), status: product.querySelector("[data-stock]").textContent };
  }, sku);
}

/** Every hold request the page sends: its time, Idempotency-Key and body. */
export function recordHolds(page) {
  const holds = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/holds") && request.method() === "POST") {
      holds.push({ at: Date.now(), key: request.headers()["idempotency-key"], body: request.postData() });
    }
  });
  return holds;
}
