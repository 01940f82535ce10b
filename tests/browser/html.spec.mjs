// The built pages (what `dropgen build` writes, not what `dropgen serve` adds) through the
// Nu Html Checker (vnu-jar from npm, on the machine's Java). It rejected the stream iframe's
// `sandbox="allow-scripts allow-same-origin"`, which is no sandbox; CSP `frame-src` is the guard.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createRequire } from "node:module";
import { test } from "./support.mjs";

const require = createRequire(import.meta.url);

function java() {
  return new Promise((resolve) => execFile("java", ["-version"], (error) => resolve(!error)));
}

test("the Nu Html Checker accepts the built pages", async (t) => {
  const out = process.env.DROPGEN_OUT;
  assert.ok(out, "DROPGEN_OUT is set by tests/browser/runner.rs");
  if (!(await java())) {
    assert.notEqual(process.env.CI, "true", "CI must have Java for the HTML checker (.ci/run installs it)");
    t.skip("no Java: the HTML checker needs it (CI=true makes this a failure)");
    return;
  }
  const jar = require("vnu-jar");
  const pages = ["index.html", "404.html", "live/index.html", "soon/index.html"].map((page) => join(out, "public", page));
  for (const page of pages) assert.ok(existsSync(page), page);
  const report = await new Promise((resolve, reject) => {
    execFile("java", ["-jar", jar, "--format", "json", "--errors-only", ...pages], { maxBuffer: 1 << 24 },
      (error, _stdout, stderr) => (stderr ? resolve(stderr) : reject(error)));
  }).catch((error) => assert.fail(`vnu did not run: ${error}`));
  const messages = JSON.parse(report).messages;
  const errors = messages.filter((message) => message.type === "error");
  assert.deepEqual(errors, [], JSON.stringify(errors, null, 1));
  // The stream's frame is there, unsandboxed, and CSP admits only the drops' players.
  const live = await readFile(join(out, "public", "live/index.html"), "utf8");
  assert.match(live, /<iframe src="https:\/\/player\.browser\.invalid\/embed\/live"/);
  assert.doesNotMatch(live, /sandbox=/);
  const headers = await readFile(join(out, "public", "_headers"), "utf8");
  assert.match(headers, /frame-src https:\/\/player\.browser\.invalid;/);
});
