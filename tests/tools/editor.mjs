// Drives the real yaml-language-server over LSP (stdio), as an editor does, on one file of a
// workspace: node editor.mjs ROOT FILE LINE:COL LINE:COL [vscode]. Opens FILE, waits for its
// diagnostics, asks for hover at the first position and completion at the second (0-based).
// With `vscode`, the workspace's `.vscode/settings.json` `yaml.schemas` is the configuration,
// as VS Code's YAML extension reads it. Prints one JSON object:
// { hover: "<markdown>", completion: ["label", ...], diagnostics: ["line:col message", ...] }.
// Used by tests/cli/editor.rs.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [workspace, file, hoverAt, completeAt, mode] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const server = require.resolve("yaml-language-server/bin/yaml-language-server");
const child = spawn(process.execPath, [server, "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });

let buffer = Buffer.alloc(0);
let nextId = 1;
const pending = new Map();
const waiters = [];
const diagnostics = [];
child.stdout.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const headerEnd = buffer.indexOf("\r\n\r\n");
    if (headerEnd < 0) return;
    const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString())[1]);
    if (buffer.length < headerEnd + 4 + length) return;
    const message = JSON.parse(buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString());
    buffer = buffer.subarray(headerEnd + 4 + length);
    if (message.id !== undefined && pending.has(message.id)) {
      pending.get(message.id)(message.result);
      pending.delete(message.id);
    } else if (message.id !== undefined && message.method) {
      // A request from the server (configuration, registration): answer it.
      const result = message.method === "workspace/configuration"
        ? message.params.items.map(() => settings.yaml)
        : null;
      send({ jsonrpc: "2.0", id: message.id, result });
      if (message.method === "workspace/configuration") configured();
    } else if (message.method === "textDocument/publishDiagnostics") {
      diagnostics.splice(0, diagnostics.length, ...message.params.diagnostics);
      waiters.splice(0).forEach((w) => w());
    }
  }
});
function send(message) {
  const body = JSON.stringify(message);
  child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
function request(method, params) {
  const id = nextId++;
  send({ jsonrpc: "2.0", id, method, params });
  return new Promise((resolveIt) => pending.set(id, resolveIt));
}
const notify = (method, params) => send({ jsonrpc: "2.0", method, params });
const position = (at) => { const [line, character] = at.split(":").map(Number); return { line, character }; };

const settings = { yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false } } };
if (mode === "vscode") {
  const vscode = JSON.parse(readFileSync(resolve(workspace, ".vscode/settings.json"), "utf8"));
  settings.yaml.schemas = vscode["yaml.schemas"];
}
const path = resolve(workspace, file);
const uri = pathToFileURL(path).href;
const root = pathToFileURL(resolve(workspace)).href;
const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 30000);

await request("initialize", { processId: process.pid, rootUri: root,
  workspaceFolders: [{ uri: root, name: "site" }], capabilities: {
  textDocument: { hover: { contentFormat: ["markdown"] }, completion: { completionItem: { snippetSupport: true } } },
  workspace: { configuration: true } } });
// The server asks for its settings once initialized; the file is opened only after it has
// them, or the schema mapping could arrive after the file was validated.
let configured;
const gotConfiguration = new Promise((r) => { configured = r; });
notify("initialized", {});
notify("workspace/didChangeConfiguration", { settings });
await gotConfiguration;
await new Promise((r) => setTimeout(r, 100));
const gotDiagnostics = new Promise((r) => waiters.push(r));
notify("textDocument/didOpen", { textDocument: { uri, languageId: "yaml", version: 1, text: readFileSync(path, "utf8") } });
await gotDiagnostics;
const hover = await request("textDocument/hover", { textDocument: { uri }, position: position(hoverAt) });
const completion = await request("textDocument/completion", { textDocument: { uri }, position: position(completeAt) });
clearTimeout(timer);
const items = Array.isArray(completion) ? completion : completion?.items ?? [];
console.log(JSON.stringify({
  hover: hover?.contents?.value ?? JSON.stringify(hover?.contents ?? null),
  completion: items.map((item) => item.label),
  diagnostics: diagnostics.map((d) => `${d.range.start.line}:${d.range.start.character} ${d.message}`),
}));
child.kill();
process.exit(0);
