"""What a reader of the course site meets, checked on the notebooks without Quarto.

- Every code cell that draws a figure keeps the figure among its saved outputs: a notebook executed with
  `MPLBACKEND=Agg` saves no image for `plt.show()` (or a figure left open), and the page then talks about
  "the curves below" with nothing below. Re-execute the cell with the inline backend (Jupyter's default).
- No markdown list glued to a paragraph: pandoc (Quarto) needs a blank line before a list, otherwise the
  `* ` markers are printed inside the paragraph.
- No code line wider than the text column unless the site's CSS wraps code, and wide output tables
  scroll in their own box (the site CSS, nbs/styles.css, says so; the browser check of a real render,
  tests/browser/site_check.py, measures the pages).
"""
import ast, json, re, shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
CSS = NBS/"styles.css"
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")
# The text column at 1280 px is 678 px; code is set at 0.875 × 17 px in a monospace font whose advance is
# about 0.6 em (8.9 px): 678 / 8.9 ≈ 76 characters fit on one line.
CODE_COLUMNS = 76

def notebooks() -> list[str]:
    "The notebooks nbdev renders: nbs/**/*.ipynb, skipping names and folders that start with _ or ."
    return sorted(str(p.relative_to(NBS)) for p in NBS.rglob("*.ipynb")
                  if not any(part[0] in "_." for part in p.relative_to(NBS).parts))

def load(nb) -> dict: return json.loads(Path(nb).read_text(encoding="utf-8"))

def _directives(src: str) -> set:
    return {re.sub(r"\s+", " ", m.group(1).strip()) for m in re.finditer(r"^#\|\s*(.+)$", src, flags=re.M)}

def _draw_call(node) -> bool:
    "plt.anything(...), plot_anything(...), x.plot(...) or x.plot_anything(...)."
    f = node.func
    if isinstance(f, ast.Attribute):
        if isinstance(f.value, ast.Name) and f.value.id == "plt": return True
        return f.attr == "plot" or f.attr.startswith("plot_")
    return isinstance(f, ast.Name) and f.id.startswith("plot_")

def draws_at_top_level(src: str) -> bool:
    "Whether the cell itself draws (a drawing call outside any def or class body)."
    code = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!")))
    try: tree = ast.parse(code)
    except SyntaxError: return False
    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)): continue
            if isinstance(child, ast.Call) and _draw_call(child): return True
            if walk(child): return True
        return False
    return walk(tree)

def figure_problems(nb: dict) -> list[str]:
    "One line per code cell that draws a figure but saved no image (empty: fine)."
    problems = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code": continue
        src = "".join(c["source"])
        d = _directives(src)
        if any(x.startswith(("export", "eval: false", "hide", "include: false")) for x in d): continue
        if not draws_at_top_level(src): continue
        if not any(t in o.get("data", {}) for o in c.get("outputs", []) for t in IMAGE_TYPES):
            first = next((l for l in src.splitlines() if l.strip() and not l.startswith("#|")), "")
            problems.append(f"cell {i} draws a figure but saved no image: {first[:70]!r}")
    return problems

LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d+[.)])\s+\S")

def glued_lists(md: str) -> list[str]:
    "Lines that start a list right under a paragraph line, with no blank line between (empty: fine)."
    problems, prev, fence = [], "blank", None
    for line in md.splitlines():
        stripped = line.strip()
        m = re.match(r"^\s*(```+|~~~+)", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence): fence = None
            prev = "other"; continue
        if m: fence, prev = m.group(1), "other"; continue
        if not stripped: prev = "blank"
        elif LIST_ITEM.match(line):
            if prev == "para": problems.append(f"list glued to the paragraph above: {stripped[:60]!r}")
            prev = "list"
        elif prev == "list" and line.startswith((" ", "\t")): prev = "list"   # a list item's continuation
        elif stripped.startswith(("#", "|", ">", "<", "$$", "---", "***")): prev = "other"
        else: prev = "para" if prev != "list" else "list"   # lazy continuation of a list item stays in the list
    return problems

def css_wraps_code(css: str) -> bool:
    "Whether the site CSS wraps the lines of code blocks (pre > code.sourceCode) instead of scrolling them."
    return bool(re.search(r"pre\s*>\s*code\.sourceCode\s*\{[^}]*white-space:\s*pre-wrap", css))

def css_boxes_tables(css: str) -> bool:
    "Whether wide output tables scroll inside their own box (.cell-output-display) rather than the page."
    return bool(re.search(r"\.cell-output-display\s*\{[^}]*overflow-x:\s*auto", css))

def wide_code_lines(nb: dict, css: str) -> list[str]:
    "Code lines wider than the column, when the CSS does not wrap them (empty: fine)."
    if css_wraps_code(css): return []
    return [f"cell {i}: {len(l)} characters: {l[:50]!r}…" for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            for l in "".join(c["source"]).splitlines() if len(l) > CODE_COLUMNS and not l.startswith("#|")]

@pytest.mark.parametrize("nb", notebooks())
def test_every_figure_is_saved(nb):
    problems = figure_problems(load(NBS/nb))
    assert not problems, (f"nbs/{nb}:\n  " + "\n  ".join(problems) + "\nre-execute these cells with the inline backend "
                          "(not MPLBACKEND=Agg) and save the notebook")

@pytest.mark.parametrize("nb", notebooks())
def test_no_list_glued_to_a_paragraph(nb):
    problems = [f"cell {i}: {p}" for i, c in enumerate(load(NBS/nb)["cells"]) if c["cell_type"] == "markdown"
                for p in glued_lists("".join(c["source"]))]
    assert not problems, f"nbs/{nb}: add a blank line before each list:\n  " + "\n  ".join(problems)

def test_code_and_tables_fit_the_column():
    css = CSS.read_text(encoding="utf-8")
    assert css_boxes_tables(css), "nbs/styles.css must let wide output tables scroll in their own box (.cell-output-display)"
    wide = {nb: w for nb in notebooks() if (w := wide_code_lines(load(NBS/nb), css))}
    assert not wide, (f"code lines wider than {CODE_COLUMNS} characters and nbs/styles.css does not wrap code: "
                      + "; ".join(f"nbs/{nb}: {len(w)} lines, e.g. {w[0]}" for nb, w in wide.items()))

# The checks themselves, on deliberately broken copies of the real files.

def test_figure_check_fails_without_the_image(tmp_path):
    "nbs/31 with the image output of its one-pass plot removed: the check names that cell."
    nb = load(NBS/"31_when_distillation_pays.ipynb")
    assert figure_problems(nb) == []
    i = next(i for i, c in enumerate(nb["cells"]) if "plot_sweep(curves" in "".join(c["source"]))
    nb["cells"][i]["outputs"] = [o for o in nb["cells"][i]["outputs"] if not any(t in o.get("data", {}) for t in IMAGE_TYPES)]
    broken = tmp_path/"31_broken.ipynb"; broken.write_text(json.dumps(nb))
    assert [p.split(" draws")[0] for p in figure_problems(load(broken))] == [f"cell {i}"]

def test_figure_check_ignores_definitions():
    "A drawing call inside a def (a helper's body) is not a figure of this cell; the cell that calls it is."
    assert not draws_at_top_level("def plot_it(x):\n    plt.plot(x)\n    return plt.gcf()")
    assert draws_at_top_level("fig = plot_sweep(table)")
    assert draws_at_top_level("def g(): pass\nfor r in runs: ax.plot(r)")
    assert not draws_at_top_level("df.plot_count = 3")

def test_glued_list_check_fails_on_a_broken_copy():
    "nbs/24 with the blank line before 'Reading the table's list removed: found; the real cell passes."
    cell = next("".join(c["source"]) for c in load(NBS/"24_performance.ipynb")["cells"]
                if c["cell_type"] == "markdown" and "the row says otherwise):\n\n* The teacher" in "".join(c["source"]))
    assert glued_lists(cell) == []
    broken = cell.replace("the row says otherwise):\n\n* The teacher", "the row says otherwise):\n* The teacher")
    assert len(glued_lists(broken)) == 1
    # lists after lists, continuation lines, numbered lists after a blank line, and fenced code are fine
    assert glued_lists("Intro:\n\n- a\n  more of a\n- b\n\n1. one\n2. two\n\n```\ntext\n- not a list\n```") == []
    assert len(glued_lists("Steps:\n1. one")) == 1

def test_code_width_check_fails_without_the_wrapping_css(tmp_path):
    "A copy of nbs/styles.css without its pre-wrap rule: the notebooks' long code lines are reported."
    css = CSS.read_text(encoding="utf-8")
    assert css_wraps_code(css) and css_boxes_tables(css)
    broken = re.sub(r"pre\s*>\s*code\.sourceCode\s*\{[^}]*\}", "", css)
    (tmp_path/"styles.css").write_text(broken)
    assert not css_wraps_code((tmp_path/"styles.css").read_text())
    assert sum(len(wide_code_lines(load(NBS/nb), broken)) for nb in notebooks()) > 0
    assert not css_boxes_tables(re.sub(r"\.cell-output-display\s*\{[^}]*\}", "", css))
