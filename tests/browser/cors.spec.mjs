// Cross-origin for real: the pages are on http://127.0.0.1:PORT, the mock API on
// http://localhost:PORT2 (another origin and another site, as in production). The mock answers
// CORS exactly as docs/inventory-api.md says, for the pages' origin only; the same pages
// opened from an origin it does not know get no CORS headers and fall back to static.
import assert from "node:assert/strict";
import { BASE, NA, SHOP, buy, mock, open, setup, stock, waitForText, waitUntil, test } from "./support.mjs";

setup();

/** The API base the served pages point at. */
async function apiBase(page) {
  return page.getAttribute("[data-drop]", "data-inventory-api");
}

test("the page reads stock and holds across origins, with the customer cookie cross-site", async () => {
  const responses = [];
  const { context, page, errors } = await open("/live/", {}, async (page) => {
    page.on("response", (response) => {
      if (response.url().endsWith("/stock")) responses.push(response);
    });
  });
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  const api = new URL(await apiBase(page));
  assert.notEqual(api.origin, new URL(BASE).origin, "the API is on another origin");
  assert.notEqual(api.hostname, new URL(BASE).hostname, "and on another site");
  await waitUntil("a stock response", () => responses.length > 0);
  const response = responses[0];
  assert.equal(response.request().headers().origin, new URL(BASE).origin);
  const headers = await response.allHeaders();
  assert.equal(headers["access-control-allow-origin"], new URL(BASE).origin);
  assert.equal(headers["access-control-allow-credentials"], "true");
  assert.equal(headers["access-control-expose-headers"], "Retry-After, ETag");
  assert.match(headers.vary, /Origin/);
  // A hold is credentialed and sends Idempotency-Key, so the browser preflights it.
  await page.click(buy("LIVE-1"));
  await page.waitForURL(/\/_dropgen\/checkout\?hold=/);
  const cookies = await context.cookies(api.origin);
  const customer = cookies.find((cookie) => cookie.name === "dropgen_customer");
  assert.ok(customer, `the API set its cookie: ${JSON.stringify(cookies)}`);
  assert.deepEqual([customer.sameSite, customer.secure, customer.httpOnly], ["None", true, true]);
  // The limit of 1 counts by that cookie, which only a cross-site credentialed request carries.
  await page.goto(`${BASE}/live/`);
  await waitForText(page, stock("LIVE-1"), /^In stock$/);
  await page.click(buy("LIVE-1"));
  await waitForText(page, stock("LIVE-1"), /^Limit reached for you$/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the preflight and every answer follow the contract, for the pages' origin only", async () => {
  const { context, page } = await open("/live/");
  const api = await apiBase(page);
  await context.close();
  const pages = new URL(BASE).origin;
  const preflight = await fetch(`${api}/drops/live/holds`, {
    method: "OPTIONS",
    headers: { Origin: pages, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,idempotency-key" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), pages);
  assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
  assert.match(preflight.headers.get("access-control-allow-methods"), /\bPOST\b/);
  assert.equal(preflight.headers.get("access-control-allow-headers"), "Content-Type, Idempotency-Key");
  // Errors carry CORS too, or the page could not read their code.
  await mock({ fault: "down" });
  const refused = await fetch(`${api}/drops/live/stock`, { headers: { Origin: pages } });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("access-control-allow-origin"), pages);
  assert.equal(refused.headers.get("retry-after"), "5");
  // Anyone else: no CORS headers at all, on the preflight or the answer.
  const stranger = new URL(BASE);
  stranger.hostname = "localhost";
  for (const origin of [stranger.origin, "https://evil.example", "null"]) {
    for (const method of ["OPTIONS", "GET"]) {
      const response = await fetch(`${api}/drops/live/stock`, { method, headers: { Origin: origin } });
      const cors = [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));
      assert.deepEqual(cors, [], `${method} from ${origin}`);
      assert.match(response.headers.get("vary"), /Origin/);
    }
  }
});

test("from an origin the API does not know, the page falls back to static cleanly", async () => {
  // The same server under its other name: an origin the mock's CORS does not answer.
  const stranger = new URL(BASE);
  stranger.hostname = "localhost";
  const { context, page, errors, beacons } = await open("/live/", {}, undefined, stranger.origin);
  await waitForText(page, stock("LIVE-2"), new RegExp(`^${NA}$`));
  assert.match(await page.textContent("[data-drop] [data-phase-label]"), /^Live now · ends in /, "times from the page");
  assert.equal(await page.getAttribute(buy("LIVE-2"), "aria-disabled"), null);
  await waitUntil("a stock_error beacon", () => beacons.some((b) => b.event === "stock_error"));
  assert.equal(beacons.find((b) => b.event === "stock_error").code, "network", "CORS hides the response");
  await page.click(buy("LIVE-2"));
  await page.waitForURL(`${SHOP}?sku=LIVE-2&drop=live`);
  assert.equal((await mock({})).holds.length, 0);
  assert.deepEqual(errors, []);
  await context.close();
});
