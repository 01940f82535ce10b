// The hydration script (themes/default/static/drops.js) in headless Chromium, against
// `dropgen serve --mock-inventory` serving tests/fixtures/browser/site: stock, phases, the
// API's status, faults, holds, telemetry and live reload. The Buy path under a failing API is
// in buy.spec.mjs, layout shift in cls.spec.mjs, cross-origin behaviour in cors.spec.mjs.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BASE, NA, PHASE, SHOP, buy, mock, open, setup, stock, waitForText, waitUntil, test } from "./support.mjs";

setup();

test("shows live stock for every product", async () => {
  const { context, page, errors } = await open("/live/");
  for (const sku of ["LIVE-1", "LIVE-2", "LIVE-3"]) await waitForText(page, stock(sku), /^In stock$/);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), null);
  assert.match(await page.textContent(buy("LIVE-2")), /^Buy/);
  assert.match(await page.textContent(PHASE), /^Live now · ends in \d+d \d\d:\d\d:\d\d$/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("with reduced motion the countdown does not tick every second", async () => {
  const { context, page, errors } = await open("/live/", { reducedMotion: "reduce" });
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  assert.match(await page.textContent(PHASE), /^Live now · ends in \d+d \d\d:\d\d$/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("says how many are left when stock is low", async () => {
  await mock({ state: "low" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^Only 3 left$/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("disables the buy link of a sold-out product", async () => {
  await mock({ state: "sold-out" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^Sold out$/);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), "true");
  assert.match(await page.textContent(buy("LIVE-2")), /^Sold out/);
  // Still a real link for assistive tech, but a click goes nowhere.
  assert.match(await page.getAttribute(buy("LIVE-2"), "href"), /^https:\/\/shop\.browser\.invalid\//);
  await page.dispatchEvent(buy("LIVE-2"), "click");
  await page.waitForTimeout(500);
  assert.equal(page.url(), `${BASE}/live/`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("counts down to the start on the server's clock and flips to live", async () => {
  // The page's own clock is the real one; only the API's server_time says the start is near.
  await mock({ server_time: "2098-06-01T11:59:56Z" });
  const { context, page, errors } = await open("/soon/");
  await waitForText(page, PHASE, /^Starts in 00:00:0[1-5]$/);
  assert.equal(await page.getAttribute("[data-drop]", "data-phase"), "upcoming");
  await waitForText(page, stock("SOON-1"), /^Opens in 00:00:0[0-5]$/);
  assert.equal(await page.getAttribute(buy("SOON-1"), "aria-disabled"), "true");
  await page.waitForSelector('[data-drop][data-phase="live"]', { timeout: 10_000 });
  await waitForText(page, PHASE, /^Live now$/);
  await waitForText(page, stock("SOON-1"), /^In stock$/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("buy holds the item with an idempotency key and goes to the returned checkout", async () => {
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  const request = page.waitForRequest((r) => r.url().endsWith("/holds") && r.method() === "POST");
  await page.click(buy("LIVE-2"));
  const sent = await request;
  const key = sent.headers()["idempotency-key"];
  assert.ok(key && key.length >= 8, `Idempotency-Key: ${key}`);
  assert.deepEqual(JSON.parse(sent.postData()), { sku: "LIVE-2", quantity: 1 });
  await page.waitForURL(/\/_dropgen\/checkout\?hold=h_[a-z0-9-]+_\d+&token=/);
  assert.match(key, /^[0-9a-f-]{32,36}$/, "from crypto, not Math.random");
  const holds = (await mock({})).holds;
  assert.equal(holds.length, 1);
  assert.equal(holds[0].sku, "LIVE-2");
  assert.equal(holds[0].idempotency_key, key);
  assert.equal(await page.getAttribute("#hold", "data-hold"), holds[0].hold_id);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a retried hold reuses the click's idempotency key and holds once", async () => {
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-3"), /^In stock$/);
  const keys = [];
  await page.route("**/holds", async (route) => {
    keys.push(route.request().headers()["idempotency-key"]);
    if (keys.length > 1) return route.continue();
    // The first request reaches the mock and holds; only its response (and cookie) is lost.
    await route.fetch();
    return route.abort("connectionreset");
  });
  await page.click(buy("LIVE-3"));
  await page.waitForURL(/\/_dropgen\/checkout\?hold=/, { timeout: 15_000 });
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  assert.equal((await mock({})).holds.length, 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a double click holds once and never falls through to the static link", async () => {
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  await page.route("**/holds", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 800));
    return route.continue();
  });
  await page.dblclick(buy("LIVE-2"));
  await page.waitForURL(/\/_dropgen\/checkout\?hold=/, { timeout: 15_000 });
  assert.equal((await mock({})).holds.length, 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a checkout URL on a foreign origin is ignored for the static link", async () => {
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  await page.route("**/holds", (route) => route.fulfill({
    status: 201,
    contentType: "application/json",
    body: JSON.stringify({ hold_id: "h_x", expires_at: new Date().toISOString(), checkout_url: "https://evil.invalid/steal" }),
  }));
  await page.click(buy("LIVE-2"));
  await page.waitForURL((url) => url.href.startsWith(SHOP), { timeout: 15_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test("says when the customer's limit is reached", async () => {
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-1"), /^In stock$/);
  await page.click(buy("LIVE-1"));
  await page.waitForURL(/\/_dropgen\/checkout/);
  // Same browser context, so the same customer cookie: the limit of 1 is used up.
  await page.goto(`${BASE}/live/`);
  await waitForText(page, stock("LIVE-1"), /^In stock$/);
  await page.click(buy("LIVE-1"));
  await waitForText(page, stock("LIVE-1"), /^Limit reached for you$/);
  assert.equal(page.url(), `${BASE}/live/`);
  assert.deepEqual(errors, []);
  await context.close();
});

for (const [fault, wait] of [["error", 10_000], ["garbage", 10_000], ["down", 10_000], ["hang", 15_000]]) {
  test(`API fault "${fault}": says live stock is unavailable and the static link still works`, async () => {
    await mock({ fault });
    const { context, page, errors } = await open("/live/");
    await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`), wait);
    assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), null);
    await page.click(buy("LIVE-2"));
    await page.waitForURL(`${SHOP}?sku=LIVE-2&drop=live`);
    assert.equal(await page.textContent("h1"), "Static checkout");
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test("429 with Retry-After: waits at least that long, then recovers", async () => {
  await mock({ fault: "rate-limited" });
  const times = [];
  const { context, page, errors } = await open("/live/", {}, async (page) => {
    page.on("request", (r) => r.url().endsWith("/stock") && times.push(Date.now()));
  });
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`));
  await mock({ fault: "none" });
  await waitForText(page, stock("LIVE-2"), /^In stock$/, 15_000);
  assert.ok(times.length >= 2, `${times.length} stock requests`);
  // Retry-After: 2 is a lower bound on the wait, whatever the random backoff says.
  assert.ok(times[1] - times[0] >= 1_950, `retried after ${times[1] - times[0]} ms`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("without JavaScript everything is readable and buy links go to checkout", async () => {
  const { context, page, errors } = await open("/live/", { javaScriptEnabled: false });
  assert.equal(await page.textContent("h1"), "Live drop");
  assert.equal(await page.textContent(stock("LIVE-2")), "Availability is confirmed at checkout.");
  // Each product's card and its item in the buy bar.
  assert.equal(await page.locator("[data-buy]").count(), 6);
  assert.equal(await page.getAttribute('a[href="https://watch.browser.invalid/live"]', "href"), "https://watch.browser.invalid/live");
  await page.click(buy("LIVE-2"));
  await page.waitForURL(`${SHOP}?sku=LIVE-2&drop=live`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the index labels each drop with its phase", async () => {
  const { context, page, errors } = await open("/");
  await page.waitForSelector('.drop-card[data-phase="live"]');
  const labels = await page.$$eval(".drop-card [data-phase-label]", (all) => all.map((l) => l.textContent));
  assert.equal(labels.length, 2);
  assert.ok(labels.some((l) => /^Live now · ends in /.test(l)), labels.join(" | "));
  assert.ok(labels.some((l) => /^Starts in \d+d /.test(l)), labels.join(" | "));
  assert.deepEqual(errors, []);
  await context.close();
});

test("pauses polling while the tab is hidden and resumes when it is shown", async () => {
  const times = [];
  const { context, page, errors } = await open("/live/", {}, async (page) => {
    page.on("request", (r) => r.url().endsWith("/stock") && times.push(Date.now()));
  });
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  const visibility = (hidden) => page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
  await visibility(true);
  const before = times.length;
  // poll_after_ms is 5000 (±10%): a visible tab would have asked again by now.
  await page.waitForTimeout(6_500);
  assert.equal(times.length, before, "no polling while hidden");
  await visibility(false);
  await waitUntil("a poll after the tab is shown", () => times.length > before, 3_000);
  assert.deepEqual(errors, []);
  await context.close();
});

test("beacons the time to first stock, then stock errors with their code", async () => {
  const { context, page, errors, beacons } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  await waitUntil("the first_stock beacon", () => beacons.some((b) => b.event === "first_stock"));
  const first = beacons.find((b) => b.event === "first_stock");
  assert.equal(first.drop, "live");
  assert.ok(Number.isInteger(first.ms) && first.ms > 0, JSON.stringify(first));
  await mock({ fault: "error" });
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`));
  await waitUntil("a stock_error beacon", () => beacons.some((b) => b.event === "stock_error"));
  assert.deepEqual(beacons.find((b) => b.event === "stock_error"), { drop: "live", event: "stock_error", code: 500 });
  assert.equal(beacons.filter((b) => b.event === "first_stock").length, 1, "first_stock is sent once");
  assert.deepEqual(errors, []);
  await context.close();
});

test("the API opening a drop late: the page says so although its times say live", async () => {
  await mock({ state: "upcoming" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, PHASE, /^Opening any moment$/);
  assert.equal(await page.getAttribute("[data-drop]", "data-phase"), "upcoming");
  // Not live by the API's word: no purchase is offered, and no hold is asked for.
  await waitForText(page, stock("LIVE-2"), /^Opening any moment$/);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), "true");
  await page.dispatchEvent(buy("LIVE-2"), "click");
  await page.waitForTimeout(300);
  assert.equal(page.url(), `${BASE}/live/`);
  assert.equal((await mock({})).holds.length, 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the API ending a drop early: the page says it ended", async () => {
  await mock({ state: "ended" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, PHASE, /^Ended$/);
  assert.equal(await page.getAttribute("[data-drop]", "data-phase"), "ended");
  // No stock claim and no Buy after the end (tests/browser/phases.spec.mjs has the rest).
  await waitForText(page, stock("LIVE-2"), /^Ended$/);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), "true");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a paused drop says so and disables every buy link until the API says live again", async () => {
  await mock({ state: "paused" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, PHASE, /^Paused · back soon$/);
  assert.equal(await page.getAttribute("[data-drop]", "data-phase"), "paused");
  for (const sku of ["LIVE-1", "LIVE-2", "LIVE-3"]) {
    assert.equal(await page.getAttribute(buy(sku), "aria-disabled"), "true", sku);
  }
  await page.dispatchEvent(buy("LIVE-2"), "click");
  await page.waitForTimeout(300);
  assert.equal(page.url(), `${BASE}/live/`, "a paused drop's link goes nowhere");
  assert.equal((await mock({})).holds.length, 0);
  await mock({ state: "live" });
  // The next poll (5 s ± 10%) brings the API's new word.
  await waitForText(page, PHASE, /^Live now · ends in /, 10_000);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test("when the API becomes unreachable, the page's own times are the truth again", async () => {
  await mock({ state: "paused" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, PHASE, /^Paused/);
  await mock({ fault: "error" });
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`), 10_000);
  await waitForText(page, PHASE, /^Live now · ends in /);
  assert.equal(await page.getAttribute("[data-drop]", "data-phase"), "live");
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), null, "the static link works again");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a tab shown again waits for a pending Retry-After before asking", async () => {
  await mock({ fault: "rate-limited", retry_after: "4" });
  const times = [];
  const { context, page, errors } = await open("/live/", {}, async (page) => {
    page.on("request", (r) => r.url().endsWith("/stock") && times.push(Date.now()));
  });
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`));
  await mock({ fault: "none" });
  // Hidden and shown at once: a shown tab asks within 0.5 s, unless Retry-After says later.
  await page.evaluate(() => {
    for (const hidden of [true, false]) {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      document.dispatchEvent(new Event("visibilitychange"));
    }
  });
  await waitForText(page, stock("LIVE-2"), /^In stock$/, 15_000);
  assert.ok(times.length >= 2, `${times.length} stock requests`);
  // Timed in the page (resource timing), from the 429's arrival to the next request's start:
  // what Retry-After bounds. (Times of Playwright's events lag by a varying amount.)
  const [refused, next] = await page.evaluate(() => performance.getEntriesByType("resource")
    .filter((entry) => entry.name.endsWith("/stock"))
    .map((entry) => ({ start: entry.startTime, end: entry.responseEnd })));
  const waited = next.start - refused.end;
  assert.ok(waited >= 3_990, `asked again ${Math.round(waited)} ms after the 429, before its Retry-After: 4`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("telemetry reports a body that is not JSON as malformed, not as its HTTP status", async () => {
  await mock({ fault: "garbage" });
  const { context, page, errors, beacons } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`));
  await waitUntil("a stock_error beacon", () => beacons.some((b) => b.event === "stock_error"));
  assert.deepEqual(beacons.find((b) => b.event === "stock_error"), { drop: "live", event: "stock_error", code: "malformed" });
  assert.deepEqual(errors, []);
  await context.close();
});

// Last: it edits the served site (a copy made by the runner) and puts it back.
test("dropgen serve: a broken save shows the error over the page, the fix reloads it", async () => {
  assert.ok(process.env.DROPGEN_SITE, "DROPGEN_SITE is set by tests/browser/runner.rs");
  const file = join(process.env.DROPGEN_SITE, "drops/live/drop.yaml");
  const original = await readFile(file, "utf8");
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  try {
    await writeFile(file, `${original}\nprice: 10\n`);
    await page.waitForSelector("#dropgen-overlay", { timeout: 10_000 });
    assert.match(await page.textContent("#dropgen-overlay"), /unknown field `price`[\s\S]*drops\/live\/drop\.yaml:\d+:1/);
    const reloaded = page.waitForEvent("load", { timeout: 10_000 });
    await writeFile(file, original.replace("title: Live drop", "title: Live drop, edited"));
    await reloaded;
    assert.equal(await page.textContent("h1"), "Live drop, edited");
    assert.equal(await page.$("#dropgen-overlay"), null);
  } finally {
    await writeFile(file, original);
  }
  assert.deepEqual(errors, []);
  await context.close();
});
