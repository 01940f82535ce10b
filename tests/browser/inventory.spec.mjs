// The Buy button against the real inventory service, not the mock: the fixture site (with
// stock for LIVE-2) is built, `dropgen inventory serve` loads its catalog with a fresh signing
// key, and `dropgen serve --inventory URL` points the pages at it. A click holds a unit and
// lands on the product's checkout with `hold` and `token` added to its query; the token is
// verified here as a shop would, against the service's JWKS (Ed25519, compact JWS), and the
// service then confirms the hold with it. Both processes are this file's own, on free loopback
// ports, and are stopped after it, whatever happened.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createPublicKey, randomUUID, verify } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { SHOP, buy, open, setup, stock, test, waitForText } from "./support.mjs";

setup();

const BIN = process.env.DROPGEN_BIN;
const FIXTURE = fileURLToPath(new URL("../fixtures/browser/site", import.meta.url));
const SHOP_KEY = "shop-secret-for-browser-tests";
const OPERATOR_KEY = "operator-secret-for-browser-tests";
/** How long a process may take to print its address. */
const START_WAIT = 30_000;

const children = [];
let work;
/** The inventory service's base URL and the pages' origin. */
let inventory;
let pages;

// A node that dies without running `after` still takes its processes with it.
process.on("exit", () => children.forEach((child) => child.exitCode === null && child.kill("SIGKILL")));

/** Runs `dropgen ARGS` to completion; its output is in the failure message. */
function run(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`dropgen ${args.join(" ")} exited with ${code}:\n${output}`)));
  });
}

/**
 * Starts `dropgen ARGS` for the rest of the file and resolves with the first capture of
 * `pattern` in its stderr; rejects if it exits or says nothing matching within START_WAIT.
 */
function start(args, cwd, env, pattern) {
  const child = spawn(BIN, args, { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  const log = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dropgen ${args[0]} did not start within ${START_WAIT} ms:\n${log.join("\n")}`)), START_WAIT);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dropgen ${args.join(" ")} exited with ${code} before it listened:\n${log.join("\n")}`));
    });
    // Keeps reading to the end, so the process never blocks on a full pipe.
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (log.length < 200) log.push(line);
      const found = line.match(pattern);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
  });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A port free on 127.0.0.1 right now (the pages' origin must be known before they listen). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  assert.ok(BIN, "DROPGEN_BIN is set by tests/browser/runner.rs");
  const parent = process.env.DROPGEN_OUT ? dirname(process.env.DROPGEN_OUT) : tmpdir();
  work = await mkdtemp(join(parent, "inventory-"));
  const site = join(work, "site");
  await cp(FIXTURE, site, { recursive: true });
  // Units for the Hoodie only: LIVE-1 and LIVE-3 start with none in the real service.
  const drop = join(site, "drops/live/drop.yaml");
  const yaml = await readFile(drop, "utf8");
  assert.match(yaml, /\n {4}name: Hoodie\n/);
  await writeFile(drop, yaml.replace(/\n {4}name: Hoodie\n/, "\n    name: Hoodie\n    stock: 50\n"));
  await run(["build", "--root", site, "--out", join(work, "out")], work);
  await run(["inventory", "keygen", "signing.pem"], work);

  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  await writeFile(join(work, "inventory.yaml"), [
    "database: inventory.db",
    "catalog: out/inventory.json",
    `page_origins: ["${origin}"]`,
    "signing_keys: [signing.pem]",
    "",
  ].join("\n"));
  const keys = { DROPGEN_INVENTORY_SHOP_KEY: SHOP_KEY, DROPGEN_INVENTORY_OPERATOR_KEY: OPERATOR_KEY };
  inventory = await start(["inventory", "serve", "--config", "inventory.yaml", "--listen", "127.0.0.1:0"], work, keys,
    /^inventory: listening on (http:\/\/\S+)$/);
  pages = await start(["serve", "--root", site, "--out", join(work, "serve-out"), "--port", String(port), "--inventory", inventory],
    work, {}, /^serving (http:\/\/\S+?)\/? /);
  assert.equal(pages, origin);
}, { timeout: 120_000 });

after(async () => {
  await Promise.all(children.map(stop));
  if (work) await rm(work, { recursive: true, force: true });
}, { timeout: 30_000 });

/** Verifies a compact JWS against a JWKS as a shop would (by `kid`, Ed25519); its claims. */
function verifyWithJwks(token, jwks) {
  const parts = token.split(".");
  assert.equal(parts.length, 3, token);
  const header = JSON.parse(Buffer.from(parts[0], "base64url"));
  assert.equal(header.alg, "EdDSA");
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is in the JWKS: ${JSON.stringify(jwks)}`);
  assert.deepEqual([jwk.kty, jwk.crv], ["OKP", "Ed25519"]);
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  assert.ok(verify(null, signed, key, Buffer.from(parts[2], "base64url")), "the signature verifies against the JWKS");
  return JSON.parse(Buffer.from(parts[1], "base64url"));
}

async function operatorView() {
  const response = await fetch(`${inventory}/drops/live`, { headers: { authorization: `Bearer ${OPERATOR_KEY}` } });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

test("Buy against `dropgen inventory serve`: held, then checkout with a token the JWKS verifies", async () => {
  const requests = [];
  const { context, page, errors } = await open("/live/", {}, async (page) => {
    page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
  }, pages);
  assert.equal(await page.getAttribute("[data-drop]", "data-inventory-api"), inventory);
  // The service's word: 50 units of LIVE-2, none of LIVE-1.
  await waitForText(page, stock("LIVE-2"), /^In stock$/);
  await waitForText(page, stock("LIVE-1"), /^Sold out$/);
  assert.ok(requests.includes(`GET ${inventory}/drops/live/stock`), requests.join("\n"));

  await page.click(buy("LIVE-2"));
  await page.waitForURL((url) => url.searchParams.has("token"), { timeout: 15_000 });
  assert.ok(requests.includes(`POST ${inventory}/drops/live/holds`), requests.join("\n"));
  assert.equal(await page.textContent("h1"), "Static checkout");
  // The product's checkout_url, its own query first, then the hold and its token.
  const checkout = new URL(page.url());
  assert.equal(`${checkout.origin}${checkout.pathname}`, SHOP);
  assert.deepEqual([...checkout.searchParams.keys()], ["sku", "drop", "hold", "token"]);
  assert.deepEqual([checkout.searchParams.get("sku"), checkout.searchParams.get("drop")], ["LIVE-2", "live"]);
  const hold = checkout.searchParams.get("hold");
  const token = checkout.searchParams.get("token");
  assert.match(hold, /^h_live_\d+$/);

  const jwksResponse = await fetch(`${inventory}/.well-known/jwks.json`);
  assert.equal(jwksResponse.status, 200);
  const jwks = await jwksResponse.json();
  const claims = verifyWithJwks(token, jwks);
  assert.deepEqual([claims.hold, claims.drop, claims.sku, claims.qty], [hold, "live", "LIVE-2", 1]);
  const now = Date.now() / 1000;
  assert.ok(claims.iat <= now + 5 && claims.exp > now, `iat ${claims.iat}, exp ${claims.exp}, now ${now}`);
  // The verifier itself refuses what was not signed: the same signature over other claims.
  const [head, , signature] = token.split(".");
  const forged = Buffer.from(JSON.stringify({ ...claims, qty: 2 })).toString("base64url");
  assert.throws(() => verifyWithJwks(`${head}.${forged}.${signature}`, jwks), /signature verifies/);

  let skus = (await operatorView()).skus;
  assert.deepEqual([skus["LIVE-2"].held, skus["LIVE-2"].available], [1, 49], JSON.stringify(skus));
  // The shop pays and confirms the hold with the token from the URL.
  const confirm = await fetch(`${inventory}/holds/${hold}/confirm`, {
    method: "POST",
    headers: { authorization: `Bearer ${SHOP_KEY}`, "content-type": "application/json", "idempotency-key": randomUUID() },
    body: JSON.stringify({ token }),
  });
  const confirmed = await confirm.json();
  assert.deepEqual([confirm.status, confirmed.state], [200, "confirmed"], JSON.stringify(confirmed));
  skus = (await operatorView()).skus;
  assert.deepEqual([skus["LIVE-2"].held, skus["LIVE-2"].sold], [0, 1], JSON.stringify(skus));
  assert.deepEqual(errors, []);
  await context.close();
});
