// Zero layout shift: a PerformanceObserver of `layout-shift`, installed before the page's
// first byte (support.mjs), sums every shift from the first paint on (the script arrives
// after it, as on a slow network), on the index and on
// drop pages, in a phone and a desktop viewport, while stock loads and when a phase changes.
// Shifts right after input (`hadRecentInput`) would not count for CLS; there is no input here,
// so every entry counts.
import assert from "node:assert/strict";
import { PHASE, mock, open, setup, stock, test, waitForText } from "./support.mjs";

setup();

const VIEWPORTS = {
  phone: { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1280, height: 800 } },
};

function assertNoShift(shifts, what) {
  const total = shifts.reduce((sum, entry) => sum + entry.value, 0);
  assert.equal(total, 0, `${what}: cumulative layout shift ${total}: ${JSON.stringify(shifts, null, 1)}`);
}

/** Lets the page run a few more ticks (countdown updates) so late shifts are caught too. */
const settle = (page) => page.waitForTimeout(1_500);

/**
 * Opens `path` with the script held back for a moment, as on a slow phone network: the page
 * paints first and hydrates afterwards, so whatever the script changes happens on screen.
 * (Loaded at once from loopback, the script would run before the first paint and hide a shift.)
 */
function openPainted(path, device) {
  return open(path, device, async (page) => {
    await page.route("**/_assets/drops-*.js", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      await route.continue();
    });
  });
}

for (const [name, device] of Object.entries(VIEWPORTS)) {
  test(`${name}: the index does not move while phases and countdowns appear`, async () => {
    const { context, page, errors, shifts } = await openPainted("/", device);
    await page.waitForSelector('.drop-card[data-phase="live"]');
    await page.waitForSelector('.drop-card[data-phase="upcoming"]');
    // Every image has loaded (or failed) too, so a missing size would have shown.
    await page.waitForFunction(() => [...document.images].every((image) => image.complete));
    await settle(page);
    assertNoShift(shifts, `${name} index`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`${name}: a drop page does not move while stock loads slowly`, async () => {
    await mock({ fault: "slow", fault_on: "stock" });
    const { context, page, errors, shifts } = await openPainted("/live/", device);
    await waitForText(page, stock("LIVE-2"), /^In stock$/, 10_000);
    await page.waitForFunction(() => [...document.images].every((image) => image.complete));
    await settle(page);
    assertNoShift(shifts, `${name} drop page`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`${name}: a drop page does not move when stock fails or sells out`, async () => {
    await mock({ state: "sold-out" });
    const { context, page, errors, shifts } = await openPainted("/live/", device);
    await waitForText(page, stock("LIVE-3"), /^Sold out$/);
    await mock({ fault: "error" });
    await waitForText(page, stock("LIVE-3"), /^Live stock is unavailable$/, 10_000);
    await settle(page);
    assertNoShift(shifts, `${name} drop page, sold out then failing`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`${name}: a drop page does not move when it opens`, async () => {
    // The API's clock is 8 s before the start: the phase flips from upcoming to live. (8 s,
    // not less: on a loaded machine opening the page alone can take 3 s.)
    await mock({ server_time: "2098-06-01T11:59:52Z" });
    const { context, page, errors, shifts } = await openPainted("/soon/", device);
    await waitForText(page, PHASE, /^Starts in 00:00:0\d$/);
    await page.waitForSelector('[data-drop][data-phase="live"]', { timeout: 20_000 });
    await waitForText(page, PHASE, /^Live now$/);
    await settle(page);
    assertNoShift(shifts, `${name} drop page opening`);
    assert.deepEqual(errors, []);
    await context.close();
  });
}
