// Renders formulas with KaTeX (the site's math engine) for tests/test_site_math.py.
// usage: node tests/katex_check.mjs FORMULAS_JSON
// FORMULAS_JSON is a list of {"tex": "...", "display": true|false}; prints a JSON list with, for
// each formula, null when KaTeX renders it or KaTeX's error message when it refuses it.
// KaTeX is loaded from tests/site/node_modules (npm ci --prefix tests/site).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("./site/package.json", import.meta.url));
const katex = require("katex");
const formulas = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = formulas.map(({ tex, display }) => {
  try {
    katex.renderToString(tex, { throwOnError: true, displayMode: display });
    return null;
  } catch (e) {
    return String(e.message);
  }
});
process.stdout.write(JSON.stringify({ version: katex.version, errors: out }));
