"""Every formula the website shows renders with KaTeX, the site's math engine (`html-math-method: katex`).

Formulas are taken as pandoc (inside Quarto) finds them: `$...$` and `$$...$$` in markdown cells
and in markdown outputs of every notebook, outside code; and the docstrings of the library's public
functions, which show_doc puts on the reference pages. Each is rendered with KaTeX from npm run by
node (`throwOnError: true`, display mode for `$$`), as the browser will. KaTeX is installed into
tests/site/node_modules on first use (`npm ci --prefix tests/site`); without node the test is
skipped with the reason.
"""
import ast, json, re, shutil, subprocess, tempfile
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB, SITE = ROOT/"nbs", ROOT/"distill_edu", ROOT/"tests"/"site"
NODE, NPM = shutil.which("node"), shutil.which("npm")

def _blank_code(md: str) -> str:
    "`md` with fenced code blocks and inline code spans blanked out (no math is read there)."
    lines, fence = [], None
    for line in md.splitlines():
        m = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence): fence = None
            lines.append("")
        elif m: fence = m.group(1); lines.append("")
        else: lines.append(line)
    text = "\n".join(lines)
    return re.sub(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", lambda m: " " * len(m.group(0)), text, flags=re.S)

def formulas(md: str) -> list[tuple[str, bool]]:
    "The (tex, display) formulas of markdown `md`, by pandoc's tex_math_dollars rules."
    t, res, i = _blank_code(md), [], 0
    while i < len(t):
        if t[i] == "\\": i += 2; continue
        if t.startswith("$$", i):
            j = t.find("$$", i + 2)
            if j < 0: break
            res.append((t[i + 2:j].strip(), True)); i = j + 2; continue
        if t[i] == "$" and i + 1 < len(t) and not t[i + 1].isspace():
            j = i + 1
            while j < len(t):
                if t[j] == "\\": j += 2; continue
                if t.startswith("\n\n", j): j = len(t); break  # no formula across a paragraph break
                if t[j] == "$" and not t[j - 1].isspace() and not t[j + 1:j + 2].isdigit(): break
                j += 1
            if j < len(t): res.append((t[i + 1:j], False)); i = j + 1; continue
        i += 1
    return res

def notebooks() -> list[str]:
    return sorted(str(p.relative_to(NBS)) for p in NBS.rglob("*.ipynb")
                  if not any(part[0] in "_." for part in p.relative_to(NBS).parts))

def notebook_formulas(nb: str) -> list[tuple[str, str, bool]]:
    "(where, tex, display) for the markdown cells and markdown outputs of nbs/`nb`."
    res = []
    for i, cell in enumerate(json.loads((NBS/nb).read_text(encoding="utf-8"))["cells"]):
        texts = ["".join(cell["source"])] if cell["cell_type"] == "markdown" else []
        texts += ["".join(o["data"]["text/markdown"]) for o in cell.get("outputs", []) if "text/markdown" in o.get("data", {})]
        res += [(f"cell {i} (id {cell.get('id', '?')})", tex, d) for t in texts for tex, d in formulas(t)]
    return res

def docstring_formulas(py: Path) -> list[tuple[str, str, bool]]:
    "(where, tex, display) for the docstrings of the public functions, classes and methods of module `py`."
    res, tree = [], ast.parse(py.read_text(encoding="utf-8"))
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    def public(n): return not n.name.startswith("_") or n.name == "__init__"
    nodes = [(n.name, n) for n in tree.body if isinstance(n, defs) and public(n)]
    nodes += [(f"{c.name}.{m.name}", m) for c in tree.body if isinstance(c, ast.ClassDef) and public(c)
              for m in c.body if isinstance(m, defs) and public(m)]
    for name, n in nodes:
        res += [(f"docstring of {name}", tex, d) for tex, d in formulas(ast.get_docstring(n) or "")]
    return res

SOURCES = {f"nbs/{nb}": (lambda nb=nb: notebook_formulas(nb)) for nb in notebooks()}
SOURCES.update({f"distill_edu/{p.name}": (lambda p=p: docstring_formulas(p))
                for p in sorted(LIB.glob("*.py")) if not p.name.startswith("_")})

def ensure_katex() -> None:
    "Install KaTeX into tests/site/node_modules unless it is there; skip without node or npm."
    if NODE is None: pytest.skip("node is not on the PATH: install Node.js to check the formulas with KaTeX")
    if (SITE/"node_modules"/"katex"/"package.json").exists(): return
    if NPM is None: pytest.skip("npm is not on the PATH: run `npm ci --prefix tests/site` to check the formulas")
    # `npm ci` installs exactly tests/site/package-lock.json and never rewrites it
    r = subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--prefix", str(SITE)], capture_output=True, text=True)
    assert r.returncode == 0, f"`npm ci --prefix tests/site` failed (KaTeX is needed for this check):\n{r.stderr[-2000:]}"

def katex_errors(items: list[tuple[str, bool]]) -> list:
    "KaTeX's error message (None when it renders) for each (tex, display)."
    ensure_katex()
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp)/"formulas.json"
        f.write_text(json.dumps([{"tex": t, "display": d} for t, d in items]), encoding="utf-8")
        r = subprocess.run([NODE, str(ROOT/"tests"/"katex_check.mjs"), str(f)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"node tests/katex_check.mjs failed:\n{r.stderr[-2000:]}"
    return json.loads(r.stdout)["errors"]

@lru_cache(None)
def all_errors() -> dict:
    "{source: [(where, tex, KaTeX error), ...]} for every formula KaTeX refuses, one node run for all."
    items = [(src, *f) for src, get in SOURCES.items() for f in get()]
    errs = katex_errors([(tex, d) for _, _, tex, d in items])
    res = {src: [] for src in SOURCES}
    for (src, where, tex, _), e in zip(items, errs):
        if e is not None: res[src].append((where, tex, e))
    return res

@pytest.mark.parametrize("source", list(SOURCES))
def test_every_formula_renders_with_katex(source):
    bad = all_errors()[source]
    assert not bad, f"{source}: KaTeX refuses {len(bad)} formula(s):\n" + "\n".join(
        f"  {where}: ${tex}$\n    {err}" for where, tex, err in bad)

def test_the_check_finds_formulas_and_refusals():
    "The check itself: pandoc's dollar rules, code left alone, and KaTeX refusing what the site could not draw."
    md = ("Inline $z_{\\max}$, not `$x$`, and \\$ is a dollar.\n\n$$p_i = \\frac{1}{V}$$\n\n"
          "```python\nx = '$y$'\n```\n$a$")
    assert formulas(md) == [("z_{\\max}", False), ("p_i = \\frac{1}{V}", True), ("a", False)]
    assert formulas("from $1 to $2") == [] and formulas("$x$1") == []
    errs = katex_errors([("z_\\max", False), ("z_{\\max}", False), ("\\frac{1}{2", True), ("\\operatorname{softmax}(z/T)", True)])
    assert [e is not None for e in errs] == [True, False, True, False]
