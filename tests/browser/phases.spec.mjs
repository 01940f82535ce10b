// The page never offers a purchase the drop does not allow (issue #22): before the start and
// after the end, by the page's times on the API's clock or by the API's status, Buy is
// disabled with the reason and no stock is claimed, with the API and without it. While live
// by its times and the API cannot be reached, the static link is the way to buy. And the
// Idempotency-Key of a hold comes from the browser's cryptographic random source.
import assert from "node:assert/strict";
import { BASE, NA, PHASE, buy, mock, open, recordHolds, setup, stock, waitForText, test } from "./support.mjs";

setup();

/** A click on a disabled buy link goes nowhere and asks for no hold. */
async function clickGoesNowhere(page, path, sku) {
  await page.dispatchEvent(buy(sku), "click");
  await page.waitForTimeout(300);
  assert.equal(page.url(), `${BASE}${path}`, "a disabled link goes nowhere");
  assert.equal((await mock({})).holds.length, 0);
}

test("before the start, with the API: Buy is disabled and the line counts down to the opening", async () => {
  const { context, page, errors } = await open("/soon/");
  await waitForText(page, stock("SOON-1"), /^Opens in \d+d \d\d:\d\d:\d\d$/);
  assert.equal(await page.getAttribute(buy("SOON-1"), "aria-disabled"), "true");
  assert.doesNotMatch(await page.textContent(stock("SOON-1")), /In stock|left/, "no stock claim");
  await clickGoesNowhere(page, "/soon/", "SOON-1");
  assert.deepEqual(errors, []);
  await context.close();
});

test("before the start, without the API: the page's times disable Buy all the same", async () => {
  await mock({ fault: "down" });
  const { context, page, errors } = await open("/soon/");
  await waitForText(page, stock("SOON-1"), /^Opens in /);
  assert.equal(await page.getAttribute(buy("SOON-1"), "aria-disabled"), "true");
  await clickGoesNowhere(page, "/soon/", "SOON-1");
  assert.deepEqual(errors, []);
  await context.close();
});

test("after the end by the API's clock, and still after the API is gone: Ended, no Buy", async () => {
  // The API's clock is past the live drop's end (2099-01-01): ended by its times.
  await mock({ server_time: "2099-02-01T00:00:00Z" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, PHASE, /^Ended$/);
  await waitForText(page, stock("LIVE-2"), /^Ended$/);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), "true");
  await clickGoesNowhere(page, "/live/", "LIVE-2");
  // Unreachable from now on: the last known server clock still says ended.
  await mock({ fault: "error" });
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await page.waitForTimeout(1500);
  await waitForText(page, stock("LIVE-2"), /^Ended$/);
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), "true");
  assert.deepEqual(errors, []);
  await context.close();
});

test("the API's ended before the end: no Buy, and the line says Ended", async () => {
  await mock({ state: "ended" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-1"), /^Ended$/);
  for (const sku of ["LIVE-1", "LIVE-2", "LIVE-3"]) {
    assert.equal(await page.getAttribute(buy(sku), "aria-disabled"), "true", sku);
  }
  await clickGoesNowhere(page, "/live/", "LIVE-2");
  assert.deepEqual(errors, []);
  await context.close();
});

test("live by its times with the API unreachable: the static link is the way to buy", async () => {
  await mock({ fault: "error" });
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`));
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), null);
  await page.click(buy("LIVE-2"));
  await page.waitForURL(/sku=LIVE-2&drop=live/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the hold's Idempotency-Key is a random UUID; without randomUUID the static link does the job", async () => {
  for (const withoutUuid of [false, true]) {
    await mock({ reset: "true" });
    const { context, page, errors } = await open("/live/", {}, async (page) => {
      // As in a page served over plain http from another host: no secure context, no randomUUID.
      if (withoutUuid) await page.addInitScript(() => Object.defineProperty(Crypto.prototype, "randomUUID", { value: undefined }));
    });
    const holds = recordHolds(page);
    await waitForText(page, stock("LIVE-2"), /^In stock$/);
    await page.click(buy("LIVE-2"));
    if (withoutUuid) {
      await page.waitForURL(/sku=LIVE-2&drop=live/);
      assert.deepEqual(holds, [], "no hold without an unguessable key");
    } else {
      await page.waitForURL(/\/_dropgen\/checkout\?hold=/);
      assert.match(holds[0].key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
});
