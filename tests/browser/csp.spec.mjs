// What the first paint waits for, and the stylesheets under the site's own
// Content-Security-Policy: pages inline the
// theme's style.css, and `_headers` admits exactly that text by its hash. The preview server
// sends no CSP, so each test puts the built `style-src` on the page's response itself.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { open, setup, test } from "./support.mjs";

setup();

/** The `style-src` directive of the built `_headers`. */
async function builtStyleSrc() {
  const headers = await readFile(join(process.env.DROPGEN_OUT, "public", "_headers"), "utf8");
  const policy = headers.split("\n").find((line) => line.trim().startsWith("Content-Security-Policy:"));
  assert.ok(policy, "_headers sends a Content-Security-Policy");
  const directive = policy.split(";").map((part) => part.trim()).find((part) => part.startsWith("style-src"));
  assert.ok(directive, policy);
  return directive;
}

/** Opens the live page with `policy` as its CSP; returns the violations and the ink colour. */
async function openUnder(policy) {
  const { context, page } = await open("/live/", {}, async (page) => {
    await page.route("**/live/", async (route) => {
      const response = await route.fetch();
      route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": policy } });
    });
    await page.addInitScript(() => {
      window.violations = [];
      document.addEventListener("securitypolicyviolation", (event) =>
        window.violations.push(`${event.effectiveDirective} ${event.blockedURI}`));
    });
  });
  await page.waitForLoadState("load");
  const violations = await page.evaluate(() => window.violations);
  const ink = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--ink").trim());
  await context.close();
  return { violations, ink };
}

test("the site's style-src admits the inlined stylesheet and nothing else is needed", async () => {
  const styleSrc = await builtStyleSrc();
  assert.match(styleSrc, /^style-src 'self'( 'sha384-[A-Za-z0-9+/=]+')+$/);
  const { violations, ink } = await openUnder(`default-src 'none'; ${styleSrc}`);
  assert.deepEqual(violations.filter((v) => v.startsWith("style-src")), []);
  assert.equal(ink, "#16181d", "the inlined stylesheet applies");
});

test("without its hash the inlined stylesheet is refused (so the hash is what admits it)", async () => {
  const { violations, ink } = await openUnder("default-src 'none'; style-src 'self'");
  assert.ok(violations.some((v) => v.startsWith("style-src")), JSON.stringify(violations));
  assert.equal(ink, "", "a refused stylesheet does not apply");
});

test("placeholder colours wait for no paint and the script switches them on", async () => {
  const { context, page, errors } = await open("/live/");
  await page.waitForLoadState("load");
  const sheet = await page.$eval("link[data-placeholders]", (link) => ({ media: link.media, loaded: !!link.sheet }));
  assert.deepEqual(sheet, { media: "all", loaded: true });
  const colour = await page.evaluate(() => {
    const placeholder = document.querySelector("[class*='ph-']");
    return placeholder && getComputedStyle(placeholder).backgroundColor;
  });
  assert.ok(colour && colour !== "rgba(0, 0, 0, 0)", `a placeholder shows its colour: ${colour}`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("without JavaScript the print stylesheet stays print-only", async () => {
  const { context, page } = await open("/live/", { javaScriptEnabled: false });
  await page.waitForLoadState("load");
  assert.equal(await page.$eval("link[data-placeholders]", (link) => link.media), "print");
  await context.close();
});
