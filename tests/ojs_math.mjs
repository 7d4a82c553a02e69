// Evaluates nbs/explorers.js with node for tests/test_ojs_math.py.
// usage: node tests/ojs_math.mjs EXPLORERS_JS CALLS_JSON
// CALLS_JSON is a list of {"fn": name, "args": [...]}; prints a JSON list with, for each call,
// {"value": result} or {"error": message}.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [explorersPath, callsPath] = process.argv.slice(2);
let m;
try {
  m = await import(pathToFileURL(explorersPath).href);
} catch (e) {
  // node versions without ES-module syntax detection read a bare .js file as CommonJS:
  // evaluate the same bytes as an ES module instead.
  if (!(e instanceof SyntaxError)) throw e;
  const src = readFileSync(explorersPath);
  m = await import("data:text/javascript;base64," + src.toString("base64"));
}
const calls = JSON.parse(readFileSync(callsPath, "utf8"));
const out = calls.map(({ fn, args }) => {
  if (typeof m[fn] !== "function") return { error: `explorers.js exports no function ${fn}` };
  try {
    return { value: m[fn](...args) };
  } catch (e) {
    return { error: String(e.message) };
  }
});
process.stdout.write(JSON.stringify(out));
