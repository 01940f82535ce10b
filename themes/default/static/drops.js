// drops.js: the default theme's hydration script.
//
// The page works without it: times, prices and the static checkout links are in the HTML.
// This script adds what only a live source knows, and nothing else:
// - the phase of each drop (upcoming, live, paused, ended) with a countdown, on the API's clock;
// - on a drop page, live stock from the inventory API (docs/inventory-api.md), and a Buy click
//   that reserves the item first and then goes to the checkout the API returns.
//
// Rules it keeps:
// - API data is shown with textContent only, never as HTML.
// - Whatever fails (network, timeouts, 5xx, malformed JSON, CORS), the static checkout link
//   still works; a Buy click never stays silent for more than HOLD_BUDGET_MS.
// - Nothing moves: every text it changes sits in a box the stylesheet sized from the start.
//
// The build minifies this file (dropgen's assets stage), so write it to be read. The elements
// and data attributes it relies on are listed in docs/themes.md.
(() => {
  /** Total time a Buy click may take, retries included, before the static link takes over. */
  const HOLD_BUDGET_MS = 5000;
  /** Another hold attempt is made only if at least this much of the budget is left. */
  const MIN_ATTEMPT_MS = 1000;
  /** The first try and two retries, all with the same Idempotency-Key. */
  const MAX_HOLD_ATTEMPTS = 3;
  const STOCK_TIMEOUT_MS = 4000;
  /** The API's `status` values and each product's `state` values (the contract's enums). */
  const STATUSES = ["upcoming", "live", "paused", "ended"];
  const STOCK_STATES = ["in_stock", "low", "sold_out"];
  /** Refusals of a hold that the page explains itself instead of going to checkout. */
  const REFUSALS = ["sold_out", "limit_reached", "not_live"];

  // The image placeholder colours arrive as a print stylesheet, which holds up no paint; they
  // apply from here on, before the images they stand in for have loaded.
  for (const sheet of document.querySelectorAll("link[data-placeholders]")) sheet.media = "all";

  // The words to show, from the theme (`<script type="application/json" data-text>`). A theme
  // without them gets a static page; the build warns about it.
  let words;
  try {
    words = JSON.parse(document.querySelector("script[data-text]").textContent);
  } catch {
    return;
  }
  /** A word of the theme, with `#` replaced by `value`. */
  const word = (key, value = "") => String(words[key] ?? "").replace("#", value);

  const root = document.querySelector("[data-drop]");
  const drop = root ? root.dataset : {};
  const api = (drop.inventoryApi || "").replace(/\/+$/, "");
  const products = document.querySelectorAll("[data-sku]");
  const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;

  /** server_time minus the local clock at receipt: countdowns run on the API's clock. */
  let clockOffset = 0;
  /** The API's word on the drop's phase; "" while it is unknown or the API is unreachable. */
  let apiStatus = "";
  /** Whether the last stock request succeeded (only then does Buy reserve first). */
  let stockShown = false;
  /** What the last stock answer said of each SKU: `{ state, available }`. */
  const lastStock = new Map();
  /** The phase the products were last shown in; "" makes the next tick show them again. */
  let shownPhase = "";
  let stockErrors = 0;
  let firstStockSent = false;
  let pollTimer;
  /** No stock request before this time (the last Retry-After), whatever asks for one. */
  let pollNotBefore = 0;
  /** The drop page's phase by its times, to notice when a start or end passes. */
  let timePhase;
  /** The product whose hold is in flight, or the page is leaving for checkout with: other
   * clicks are ignored, and polls leave its stock line (which says what is happening) alone. */
  let holding = null;

  const now = () => Date.now() + clockOffset;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function beacon(event, details) {
    if (drop.telemetryUrl) {
      navigator.sendBeacon(drop.telemetryUrl, JSON.stringify({ drop: drop.drop, event, ...details }));
    }
  }

  /** The phase of an element with data-starts-at/data-ends-at by its times; "" without any. */
  function phaseByTime(element, at) {
    const startsAt = Date.parse(element.dataset.startsAt);
    const endsAt = Date.parse(element.dataset.endsAt);
    if (!startsAt) return "";
    if (at >= endsAt) return "ended";
    return at < startsAt ? "upcoming" : "live";
  }

  /** `1d 02:03:04`, or `1d 02:03` with reduced motion (which then changes once a minute). */
  function countdown(seconds) {
    const days = seconds >= 86400 ? Math.floor(seconds / 86400) + "d " : "";
    return days + new Date(seconds * 1000).toISOString().slice(11, reducedMotion ? 16 : 19);
  }

  function phaseLabel(element, phase, at) {
    const until = phase === "upcoming" ? element.dataset.startsAt : element.dataset.endsAt;
    const seconds = (Date.parse(until) - at) / 1000;
    if (phase === "upcoming") return seconds > 0 ? word("upcoming", countdown(seconds)) : word("opening");
    if (phase === "live") return seconds > 0 ? word("live", countdown(seconds)) : word("live_open");
    return word(phase);
  }

  /** Every second: each drop's phase and countdown (the drop page's from the API when known,
   * except that its end time is the end), and what its products offer in that phase. */
  function tick() {
    const at = now();
    for (const element of document.querySelectorAll("[data-starts-at]")) {
      const byTime = phaseByTime(element, at);
      const phase = element === root && byTime !== "ended" ? apiStatus || byTime : byTime;
      element.dataset.phase = phase;
      const label = element.querySelector("[data-phase-label]");
      if (label && phase) label.textContent = phaseLabel(element, phase, at);
      if (element === root) {
        // A start or end just passed: ask the API soon, spread over 2 s so a crowd does not
        // ask at the same instant.
        if (api && timePhase && timePhase !== byTime) schedulePoll(Math.random() * 2000);
        timePhase = byTime;
        // Once per phase (and per stock answer), so a refusal's words stay until the next poll;
        // every second while upcoming, for the countdown.
        if (phase !== shownPhase || phase === "upcoming") showProducts(phase, at);
        shownPhase = phase;
      }
    }
  }

  /** Each product's buy link and stock line in the drop's phase. Before the start and after
   * the end no purchase is offered and no stock claimed: the line says why. */
  function showProducts(phase, at) {
    for (const product of products) {
      if (product === holding) continue;
      const known = lastStock.get(product.dataset.sku);
      if (phase === "upcoming" || phase === "ended") {
        setBuyable(product, phase);
        const seconds = (Date.parse(root.dataset.startsAt) - at) / 1000;
        if (phase === "ended") say(product, "ended");
        else if (seconds > 0) say(product, "not_yet", countdown(seconds));
        else say(product, "opening");
        continue;
      }
      setBuyable(product, known?.state === "sold_out" ? "sold_out" : phase === "paused" ? "paused" : "");
      // A SKU the API does not know keeps what the page says; an API that failed says so.
      if (known) say(product, known.state, known.available);
      else if (api && stockErrors) say(product, "na");
    }
  }

  /** One request to the inventory API; never throws. `hold` is the body of a hold. */
  async function callApi(path, timeoutMs, hold, idempotencyKey) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(`${api}/drops/${encodeURIComponent(drop.drop)}${path}`, {
        signal: controller.signal,
        cache: "no-store",
        method: hold ? "POST" : "GET",
        // Stock is the same for everyone; a hold carries the customer cookie.
        credentials: hold ? "include" : "omit",
        headers: hold ? { "Content-Type": "application/json", "Idempotency-Key": idempotencyKey } : {},
        body: hold,
      });
      let body = null;
      try {
        body = JSON.parse(await response.text());
      } catch {
        // Not JSON: `body` stays null, which callers report as `malformed`.
      }
      const retryAfter = Number(response.headers.get("Retry-After")) || 0;
      return { status: response.status, body: Object(body), retryAfter };
    } catch {
      return { status: 0, body: {}, retryAfter: 0, error: controller.signal.aborted ? "timeout" : "network" };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The telemetry code of a failed call, as the contract lists them. */
  function errorCode(result) {
    if (result.error) return result.error;
    if (typeof result.body.code === "string") return result.body.code;
    return result.status >= 200 && result.status < 300 ? "malformed" : result.status;
  }

  /** What a product's stock line says; `data-state` names it, for the stylesheet. */
  function say(product, key, count) {
    const line = product.querySelector("[data-stock]");
    if (line) {
      line.textContent = word(key, count);
      line.dataset.state = key;
    }
  }

  /** Enables a product's buy link, or disables it as `sold_out` (which its label then says),
   * `paused`, `upcoming` or `ended`. */
  function setBuyable(product, disabledAs) {
    const link = product.querySelector("[data-buy]");
    const label = link?.firstChild;
    if (!label) return;
    link.idleWord ??= label.data;
    if (disabledAs) link.setAttribute("aria-disabled", "true");
    else link.removeAttribute("aria-disabled");
    label.data = disabledAs === "sold_out" ? word("sold_out") : link.idleWord;
  }

  /** Shows a stock response; false when it is not one (the caller reports it). */
  function showStock({ status, body }) {
    const serverTime = Date.parse(body.server_time);
    if (status !== 200 || !serverTime || !Array.isArray(body.items) || !STATUSES.includes(body.status)) {
      return false;
    }
    clockOffset = serverTime - Date.now();
    apiStatus = body.status;
    lastStock.clear();
    for (const item of body.items.map(Object)) {
      if (STOCK_STATES.includes(item.state)) {
        lastStock.set(item.sku, { state: item.state, available: Math.trunc(item.available) || 0 });
      }
    }
    return true;
  }

  /** Polls again after `delayMs`, but never before a pending Retry-After. */
  function schedulePoll(delayMs) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, Math.max(delayMs, pollNotBefore - Date.now()));
  }

  async function poll() {
    clearTimeout(pollTimer);
    if (document.hidden) return;
    const result = await callApi("/stock", STOCK_TIMEOUT_MS);
    pollNotBefore = Date.now() + result.retryAfter * 1000;
    stockShown = showStock(result);
    if (stockShown) {
      stockErrors = 0;
      if (!firstStockSent) beacon("first_stock", { ms: Math.round(performance.now()) });
      firstStockSent = true;
      shownPhase = "";
      tick();
      const suggested = Math.min(60000, Math.max(1000, Math.trunc(result.body.poll_after_ms) || 5000));
      schedulePoll(suggested * (0.9 + Math.random() / 5));
      return;
    }
    // The times on the page are the truth again, and the static links the way to buy.
    apiStatus = "";
    lastStock.clear();
    beacon("stock_error", { code: errorCode(result) });
    stockErrors += 1;
    shownPhase = "";
    tick();
    // Exponential backoff with full jitter: a random wait of up to 2 s, 4 s, 8 s … 60 s.
    schedulePoll(Math.random() * Math.min(60000, 1000 * 2 ** stockErrors));
  }

  /** `url` when it is an http(s) URL on the static link's origin or the page's; else "". */
  function allowedCheckout(url, staticLink) {
    try {
      const target = new URL(url);
      const origins = [new URL(staticLink).origin, location.origin];
      return /^https?:$/.test(target.protocol) && origins.includes(target.origin) ? target.href : "";
    } catch {
      return "";
    }
  }

  /** Tries to hold one unit of `sku` within HOLD_BUDGET_MS; the last answer, good or bad. */
  async function hold(sku) {
    // Unguessable, so nobody can replay another shopper's hold. Never Math.random.
    const key = crypto.randomUUID();
    const body = JSON.stringify({ sku, quantity: 1 });
    const deadline = Date.now() + HOLD_BUDGET_MS;
    for (let attempt = 1; ; attempt += 1) {
      const result = await callApi("/holds", deadline - Date.now(), body, key);
      const retryable = !result.status || result.status === 429 || result.status >= 500;
      if (!retryable || attempt === MAX_HOLD_ATTEMPTS) return result;
      // Retry-After is a lower bound; full jitter spreads the crowd's retries.
      const wait = Math.max(result.retryAfter * 1000, Math.random() * 250 * 2 ** attempt);
      // Not enough budget for the wait and a real try: hand over now, not at the deadline.
      if (Date.now() + wait + MIN_ATTEMPT_MS > deadline) return result;
      await sleep(wait);
    }
  }

  function showWorking(product, link, working) {
    if (working) link.setAttribute("aria-busy", "true");
    else link.removeAttribute("aria-busy");
    if (working) say(product, "holding");
  }

  async function onBuyClick(event) {
    const link = event.target.closest("[data-buy]");
    const product = link?.closest("[data-sku]");
    if (!product) return;
    // One hold at a time: a second click, on any product, never starts another.
    if (holding || link.getAttribute("aria-disabled")) {
      event.preventDefault();
      return;
    }
    // A new tab or window, no live word from the API, or no randomUUID (only in a page served
    // over plain http from another host, as a preview on a phone can be): the static link
    // does the job.
    if (event.ctrlKey || event.metaKey || event.shiftKey || !stockShown || apiStatus !== "live" || !crypto.randomUUID) {
      return;
    }
    event.preventDefault();
    holding = product;
    showWorking(product, link, true);
    const result = await hold(product.dataset.sku);
    const checkout = result.status === 201 && allowedCheckout(result.body.checkout_url, link.href);
    if (checkout) {
      location.assign(checkout);
      return;
    }
    beacon("hold_error", { code: errorCode(result) });
    if (result.status === 409 && REFUSALS.includes(result.body.code)) {
      holding = null;
      showWorking(product, link, false);
      if (result.body.code === "sold_out") setBuyable(product, "sold_out");
      say(product, result.body.code);
      return;
    }
    // Anything else: the product's static checkout link, saying why the page moves on.
    say(product, "handover");
    location.assign(link.href);
  }

  // Every time in the visitor's own time zone, named (the HTML has the drop's own offset), in
  // the page's language and the theme's format (Intl.DateTimeFormat options in `data-text`).
  const localTime = new Intl.DateTimeFormat(document.documentElement.lang || [], words["time"]);
  for (const time of document.querySelectorAll("time[datetime]")) {
    const at = Date.parse(time.dateTime);
    if (at) time.textContent = localTime.format(at);
  }

  // The buy bar offers the topmost product whose card is in view. (The bar's own items are
  // products too, after the cards: while no card is in view, the one on show keeps itself.)
  const barItems = document.querySelectorAll("[data-buy-bar] [data-sku]");
  const inView = new Set();
  const follow = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) inView[entry.isIntersecting ? "add" : "delete"](entry.target);
      const shown = [...products].find((product) => inView.has(product));
      if (shown) for (const item of barItems) item.hidden = item.dataset.sku !== shown.dataset.sku;
    },
    { threshold: 0.5 },
  );
  for (const product of products) follow.observe(product);

  tick();
  setInterval(tick, 1000);
  if (!api || !root) return;
  root.addEventListener("click", onBuyClick);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) clearTimeout(pollTimer);
    else schedulePoll(Math.random() * 500);
  });
  // Back from checkout through the back/forward cache: the page is usable again.
  addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    holding = null;
    for (const link of root.querySelectorAll("[data-buy][aria-busy]")) link.removeAttribute("aria-busy");
    schedulePoll(0);
  });
  poll();
})();
