// The Buy path under a real crowd: the button says it is working at once, a hold that has
// not succeeded within about 5 s hands over to the static checkout link with a visible
// message, retries keep one Idempotency-Key, and a second click never starts a second hold.
// The failures are the mock's own, on its holds route only (`fault_on=holds`), so the page
// has live stock and takes the hold path.
import assert from "node:assert/strict";
import {
  HANDOVER, HOLDING, SHOP, buy, clickAndRead, mock, open, recordHolds, setup, stock, test, waitForText,
} from "./support.mjs";

setup();

/** How long a test waits for the hand-over: the 5 s budget with room for a loaded machine.
 * A script without the budget waits out the mock's hang (60 s) and fails here. */
const HANDOVER_WAIT = 9_000;

async function liveStock(page) {
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
}

test("a hanging API: working at once, then the static link with a message, within the budget", async () => {
  const { context, page, errors, statuses, beacons } = await open("/live/");
  const holds = recordHolds(page);
  await liveStock(page);
  await mock({ fault: "hang", fault_on: "holds" });
  const shown = await clickAndRead(page, "LIVE-2");
  assert.deepEqual(shown, { busy: "true", status: HOLDING }, "the working state is set by the click itself");
  await page.waitForURL(`${SHOP}?sku=LIVE-2&drop=live`, { timeout: HANDOVER_WAIT });
  assert.ok(statuses.includes(HANDOVER), `the page said why it moved on: ${JSON.stringify(statuses)}`);
  assert.equal(holds.length, 1, "a try that used the whole budget is not retried");
  assert.equal((await mock({})).holds.length, 0);
  assert.deepEqual(beacons.find((b) => b.event === "hold_error"), { drop: "live", event: "hold_error", code: "timeout" });
  assert.deepEqual(errors, []);
  await context.close();
});

test("a slow API (3 s): the button works meanwhile and the hold goes through", async () => {
  const { context, page, errors, statuses } = await open("/live/");
  const holds = recordHolds(page);
  await liveStock(page);
  await mock({ fault: "slow", fault_on: "holds" });
  const shown = await clickAndRead(page, "LIVE-2");
  assert.deepEqual(shown, { busy: "true", status: HOLDING });
  await page.waitForURL(/\/_dropgen\/checkout\?hold=h_[a-z0-9-]+_\d+&token=/, { timeout: HANDOVER_WAIT });
  assert.equal(holds.length, 1);
  assert.equal((await mock({})).holds.length, 1);
  assert.ok(!statuses.includes(HANDOVER), JSON.stringify(statuses));
  assert.deepEqual(errors, []);
  await context.close();
});

test("503 with a Retry-After beyond the budget: no retry before it, the static link at once", async () => {
  const { context, page, errors, statuses } = await open("/live/");
  const holds = recordHolds(page);
  await liveStock(page);
  await mock({ fault: "down", fault_on: "holds", retry_after: "30" });
  await clickAndRead(page, "LIVE-2");
  await page.waitForURL(`${SHOP}?sku=LIVE-2&drop=live`, { timeout: HANDOVER_WAIT });
  assert.equal(holds.length, 1, "Retry-After: 30 leaves no time for a second try");
  assert.ok(statuses.includes(HANDOVER), JSON.stringify(statuses));
  assert.deepEqual(errors, []);
  await context.close();
});

test("503 with a short Retry-After: retried after it with the same key, then held once", async () => {
  const { context, page, errors } = await open("/live/");
  const holds = recordHolds(page);
  await liveStock(page);
  await mock({ fault: "down", fault_on: "holds", retry_after: "1" });
  // The API recovers as soon as it has refused the first try.
  page.on("response", (response) => {
    if (response.url().endsWith("/holds") && response.status() === 503) mock({ fault: "none" });
  });
  await clickAndRead(page, "LIVE-2");
  await page.waitForURL(/\/_dropgen\/checkout\?hold=h_[a-z0-9-]+_\d+&token=/, { timeout: HANDOVER_WAIT });
  assert.equal(holds.length, 2, JSON.stringify(holds));
  assert.equal(holds[0].key, holds[1].key, "the retry reuses the click's Idempotency-Key");
  assert.equal(holds[0].body, holds[1].body);
  // Request times seen from here lag by a varying amount; a retry that ignored Retry-After
  // would come within the jitter (at most 0.5 s), well under this bound.
  assert.ok(holds[1].at - holds[0].at >= 800, `retried after ${holds[1].at - holds[0].at} ms, before Retry-After: 1`);
  assert.equal((await mock({})).holds.length, 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("while a hold is in flight, more clicks on any product start nothing", async () => {
  const { context, page, errors } = await open("/live/");
  const holds = recordHolds(page);
  await liveStock(page);
  await mock({ fault: "slow", fault_on: "holds" });
  await clickAndRead(page, "LIVE-2");
  for (const sku of ["LIVE-2", "LIVE-3", "LIVE-2"]) {
    await page.evaluate((sku) => document.querySelector(`[data-sku="${sku}"] [data-buy]`).click(), sku);
  }
  assert.equal(page.url().endsWith("/live/"), true, "no click fell through to a static link");
  await page.waitForURL(/\/_dropgen\/checkout\?hold=/, { timeout: HANDOVER_WAIT });
  assert.equal(holds.length, 1, JSON.stringify(holds));
  const held = (await mock({})).holds;
  assert.deepEqual(held.map((h) => h.sku), ["LIVE-2"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a stock poll during a hold does not overwrite the working message", async () => {
  const { context, page, errors } = await open("/live/");
  await liveStock(page);
  await mock({ fault: "hang", fault_on: "holds" });
  await clickAndRead(page, "LIVE-3");
  // A tab shown again polls within 0.5 s: one poll answers while the hold hangs.
  const polled = page.waitForResponse((r) => r.url().endsWith("/stock") && r.status() === 200);
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await polled;
  await page.waitForTimeout(100);
  assert.equal(await page.textContent(stock("LIVE-3")), HOLDING);
  assert.equal(await page.getAttribute(buy("LIVE-3"), "aria-busy"), "true");
  assert.deepEqual(errors, []);
  await context.close();
});
