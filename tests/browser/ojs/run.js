// A minimal stand-in for Quarto's OJS compiler, for tests/browser/test_live_sliders.py: runs the
// {ojs} blocks of nbs/06_live_sliders.ipynb (cells.json, one string per block) with the Observable
// runtime, stdlib, Inputs and Plot (ojs-bundle.js, built offline), and records every cell's state
// in window.ojsState. Like Quarto it splits blocks into cells with the Observable parser, resolves
// `import {...} from "./x.js"` as an ES module next to the page, FileAttachment(name) next to the
// page, and `viewof x` into a view and its value. It is not Quarto: layout and theming differ.
const {Runtime, Library, FileAttachments, Inputs, Plot, parseModule} = window.OJS;
window.ojsState = {errors: [], fulfilled: 0, pending: 0, cells: 0, done: false};
const blocks = await (await fetch("cells.json")).json();
const lib = new Library();
const builtins = {};
for (const k in lib) builtins[k] = lib[k];
Object.assign(builtins, {
  Plot: () => Plot, Inputs: () => Inputs,
  FileAttachment: () => FileAttachments((name) => new URL(name, location.href).href),
});
const runtime = new Runtime(builtins);
const main = runtime.module();
const root = document.getElementById("root");
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const refName = (r) => r.type === "ViewExpression" ? `viewof ${r.id.name}` : r.name;
const param = (r) => r.type === "ViewExpression" ? `viewof$${r.id.name}` : r.name;
let n = 0;
for (const src of blocks) {
  const mod = parseModule(src);
  for (const cell of mod.cells) {
    const div = document.createElement("div");
    div.className = "ojs-cell"; div.dataset.cell = String(n++);
    root.appendChild(div);
    window.ojsState.cells++;
    const observer = {
      pending() { window.ojsState.pending++; },
      fulfilled(value) {
        window.ojsState.fulfilled++;
        div.replaceChildren();
        if (value instanceof Node) div.appendChild(value);
      },
      rejected(error) {
        window.ojsState.errors.push(`${div.dataset.cell}: ${error && error.message || error}`);
        div.textContent = `ERROR: ${error && error.message || error}`;
        div.className = "ojs-cell ojs-error";
      },
    };
    if (cell.body.type === "ImportDeclaration") {
      const source = cell.body.source.value;
      const m = import(new URL(source, location.href).href);
      for (const s of cell.body.specifiers) {
        main.variable(observer).define(s.local.name, [], () => m.then((x) => {
          if (!(s.imported.name in x)) throw new Error(`${source} exports no ${s.imported.name}`);
          return x[s.imported.name];
        }));
      }
      continue;
    }
    const refs = [...new Map(cell.references.map((r) => [refName(r), r])).values()];
    let body = src.slice(cell.body.start, cell.body.end);
    for (const r of refs) if (r.type === "ViewExpression") body = body.replaceAll(`viewof ${r.id.name}`, param(r));
    const code = cell.body.type === "BlockStatement" ? body : `return (${body});`;
    const F = cell.async ? AsyncFunction : Function;
    const fn = new F(...refs.map(param), code);
    const inputs = refs.map(refName);
    if (cell.id && cell.id.type === "ViewExpression") {
      const name = cell.id.id.name;
      main.variable(observer).define(`viewof ${name}`, inputs, fn);
      main.variable({fulfilled() {}, rejected(e) { window.ojsState.errors.push(`${name}: ${e.message}`); }})
          .define(name, ["Generators", `viewof ${name}`], (G, v) => G.input(v));
    } else if (cell.id) {
      main.variable(observer).define(cell.id.name, inputs, fn);
    } else {
      main.variable(observer).define(inputs, fn);
    }
  }
}
window.ojsState.done = true;
