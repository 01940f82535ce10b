// The drop page sells on a phone: on the first screen of a 390 × 844 and a 412 × 915 phone
// (and a 1366 × 768 desktop), the title, the phase and countdown, the first product's price
// and an enabled Buy; a buy bar that stays in reach while scrolling and follows the product in
// view; times in the visitor's own time zone, named; low stock that stands out; and, without
// JavaScript, every product's real checkout link.
import assert from "node:assert/strict";
import { PHASE, SHOP, mock, open, setup, stock, test, waitForText } from "./support.mjs";

setup();

const SCREENS = {
  "390 × 844 phone": { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true },
  "412 × 915 phone": { viewport: { width: 412, height: 915 }, deviceScaleFactor: 2.6, isMobile: true, hasTouch: true },
  "1366 × 768 desktop": { viewport: { width: 1366, height: 768 } },
};

/** The bar's item on show: its SKU, its Buy's text and state, and its box. */
const BAR = "[data-buy-bar] [data-sku]:not([hidden])";

/** The box of the first element matching `selector`, and whether it is wholly on screen. */
function onScreen(page, selector) {
  return page.evaluate((selector) => {
    const element = document.querySelector(selector);
    if (!element) return { selector, missing: true };
    const box = element.getBoundingClientRect();
    const visible = box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0;
    const inside = box.bottom <= innerHeight && box.right <= innerWidth;
    return { selector, top: Math.round(box.top), bottom: Math.round(box.bottom), onScreen: visible && inside };
  }, selector);
}

for (const [name, device] of Object.entries(SCREENS)) {
  test(`${name}: the first screen has the title, the countdown, the first price and an enabled Buy`, async () => {
    const { context, page, errors } = await open("/live/", device);
    await waitForText(page, stock("LIVE-1"), /^In stock$/);
    await waitForText(page, PHASE, /^Live now · ends in \d+d \d\d:\d\d:\d\d$/);
    for (const selector of ["h1", PHASE, `${BAR} [data-buy]`]) {
      const box = await onScreen(page, selector);
      assert.ok(box.onScreen, `${name}: ${selector} is not on the first screen: ${JSON.stringify(box)}`);
    }
    const bar = await page.$eval(BAR, (item) => ({
      sku: item.dataset.sku,
      buy: item.querySelector("[data-buy]").textContent,
      disabled: item.querySelector("[data-buy]").getAttribute("aria-disabled"),
    }));
    assert.deepEqual(bar, { sku: "LIVE-1", buy: "Buy · $30.00 Limited tee", disabled: null });
    // The countdown is the focal point: bigger than the body text.
    const [phaseSize, bodySize] = await page.evaluate((phase) => [
      parseFloat(getComputedStyle(document.querySelector(phase)).fontSize),
      parseFloat(getComputedStyle(document.body).fontSize),
    ], PHASE);
    assert.ok(phaseSize > bodySize, `the countdown (${phaseSize}px) is no bigger than the text (${bodySize}px)`);
    // Nothing wider than the screen.
    const width = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
    assert.equal(width[0], width[1], `${name}: the page scrolls sideways`);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test("the buy bar stays in reach while scrolling and follows the product in view", async () => {
  const { context, page, errors } = await open("/live/", SCREENS["390 × 844 phone"]);
  await waitForText(page, stock("LIVE-1"), /^In stock$/);
  for (const sku of ["LIVE-3", "LIVE-2"]) {
    await page.$eval(`.product[data-sku="${sku}"]`, (card) => card.scrollIntoView({ block: "start" }));
    await page.waitForFunction((sku) => document.querySelector("[data-buy-bar] [data-sku]:not([hidden])")?.dataset.sku === sku, sku);
    const box = await onScreen(page, `${BAR} [data-buy]`);
    assert.ok(box.onScreen, `after scrolling to ${sku}, the bar's Buy is off screen: ${JSON.stringify(box)}`);
    assert.equal(await page.$$eval("[data-buy-bar] [data-sku]:not([hidden])", (items) => items.length), 1);
  }
  // The bar's Buy holds the product it shows, as the card's would.
  await page.click(`${BAR} [data-buy]`);
  await page.waitForURL(/\/_dropgen\/checkout\?hold=/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("times show in the visitor's time zone, with the zone named", async () => {
  for (const [timezoneId, zone] of [["Asia/Tokyo", "GMT+9"], ["America/New_York", /EST|EDT/]]) {
    const { context, page, errors } = await open("/live/", { timezoneId, locale: "en-US" });
    await page.waitForFunction(() => !document.querySelector("[data-drop] time").textContent.includes("UTC"));
    const times = await page.$$eval("[data-drop] time", (elements) =>
      elements.map((time) => ({ datetime: time.dateTime, text: time.textContent })));
    assert.equal(times.length, 2);
    for (const { datetime, text } of times) {
      const expected = new Intl.DateTimeFormat("en-US", {
        day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short", timeZone: timezoneId,
      }).format(Date.parse(datetime));
      assert.equal(text, expected);
      assert.match(text, zone instanceof RegExp ? zone : new RegExp(zone.replace("+", "\\+")));
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("low stock stands out from plain availability", async () => {
  const { context, page, errors } = await open("/live/");
  await waitForText(page, stock("LIVE-1"), /^In stock$/);
  const colour = (selector) => page.$eval(selector, (line) => [getComputedStyle(line).color, getComputedStyle(line).fontWeight]);
  const plain = await colour(stock("LIVE-1"));
  await mock({ state: "low" });
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await waitForText(page, stock("LIVE-1"), /^Only 3 left$/);
  const low = await colour(stock("LIVE-1"));
  assert.notDeepEqual(low, plain, "`Only 3 left` looks the same as `In stock`");
  assert.equal(await page.$eval(stock("LIVE-1"), (line) => line.dataset.state), "low");
  assert.deepEqual(errors, []);
  await context.close();
});

test("without JavaScript every product and the bar keep their real checkout links", async () => {
  const { context, page } = await open("/live/", { javaScriptEnabled: false });
  const links = await page.$$eval("[data-sku] [data-buy]", (links) =>
    links.map((link) => [link.closest("[data-sku]").dataset.sku, link.href, link.closest("[hidden]") === null]));
  const checkout = (sku) => `${SHOP}?sku=${sku}&drop=live`;
  assert.deepEqual(links, [
    ["LIVE-1", checkout("LIVE-1"), true],
    ["LIVE-2", checkout("LIVE-2"), true],
    ["LIVE-3", checkout("LIVE-3"), true],
    // The bar: the first product on show, the others hidden until the script follows the view.
    ["LIVE-1", checkout("LIVE-1"), true],
    ["LIVE-2", checkout("LIVE-2"), false],
    ["LIVE-3", checkout("LIVE-3"), false],
  ]);
  await context.close();
});
