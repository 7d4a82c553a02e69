"""Every link between the course's pages, and every anchor it points to, exists on the site.

Checked on the processed pages (`_proc/`, what Quarto renders), built here with nbdev's own
processing (`nbdev_proc_nbs`, without Quarto): nbdev has by then turned every backticked name of the
library into a link to `page.html#name`, and show_doc has written each function's `### name`
heading. Anchors are computed as pandoc (inside Quarto) makes them: a heading's explicit `{#id}` or
its auto identifier, ids of divs/spans and HTML elements, and cell labels. Links to the site's own
address (nbdev writes doc_host links) count as internal: nbs/site_links.lua makes them relative.
Also reported: a markdown link inside a code block (backticks in a docments comment become a raw
`[name](url)` in the rendered signature).
"""
import configparser, json, os, re, subprocess, sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS, PROC = ROOT/"nbs", ROOT/"_proc"
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")

def site_prefix() -> str:
    ini = configparser.ConfigParser(); ini.read(ROOT/"settings.ini")
    d = ini["DEFAULT"]
    return d["doc_host"].rstrip("/") + "/" + d["doc_baseurl"].strip("/") + "/"

def notebooks() -> list[str]:
    return sorted(str(p.relative_to(NBS)) for p in NBS.rglob("*.ipynb")
                  if not any(part[0] in "_." for part in p.relative_to(NBS).parts))

def pandoc_id(heading: str) -> str:
    "pandoc's auto identifier of a heading's markdown text (extension auto_identifiers)."
    t = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)          # links and images: their text
    t = re.sub(r"(`+)(.*?)\1", r"\2", t)                               # code: its content
    t = re.sub(r"(?<!\\)(\*{1,3})(?=\S)(.+?)(?<=\S)\1", r"\2", t)           # *emphasis*
    t = re.sub(r"(?<!\S)(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\S)", r"\2", t)       # _emphasis_ (not name__x__)
    t = t.replace("\\", "").replace("$", "")
    t = "".join(ch for ch in t if ch.isalnum() or ch in "_-." or ch.isspace())
    t = re.sub(r"\s+", "-", t.strip()).lower()
    t = re.sub(r"^[^a-z\u00c0-\uffff]+", "", t)                         # up to the first letter
    return t or "section"

def _outside_fences(md: str):
    "(line, in_code) for each line of markdown `md`."
    fence = None
    for line in md.splitlines():
        m = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence): fence = None
            yield line, True
        elif m: fence = m.group(1); yield line, True
        else: yield line, False

def _texts(cell: dict) -> list[tuple[str, str]]:
    "(kind, text) of a processed cell: its markdown, its markdown outputs and its HTML outputs."
    res = [("markdown", "".join(cell["source"]))] if cell["cell_type"] == "markdown" else []
    for o in cell.get("outputs", []):
        d = o.get("data", {})
        if "text/markdown" in d: res.append(("markdown", "".join(d["text/markdown"])))
        if "text/html" in d: res.append(("html", "".join(d["text/html"])))
    return res

def page_of(proc_nb: dict, name: str) -> str:
    "The HTML page a processed notebook becomes (its front matter's output-file)."
    raw = next((c for c in proc_nb["cells"] if c["cell_type"] == "raw"), None)
    m = re.search(r"^output-file:\s*(\S+)", "".join(raw["source"]) if raw else "", flags=re.M)
    return m.group(1) if m else re.sub(r"^\d+_", "", Path(name).stem) + ".html"

def anchors(proc_nb: dict) -> set[str]:
    "Every id a reader can link to on the page."
    ids, seen = set(), {}
    for cell in proc_nb["cells"]:
        if cell["cell_type"] == "code":
            ids.update(re.findall(r"^#\|\s*label:\s*(\S+)", "".join(cell["source"]), flags=re.M))
        for kind, text in _texts(cell):
            ids.update(re.findall(r"""\bid\s*=\s*["']([^"']+)["']""", text))
            if kind != "markdown": continue
            for line, code in _outside_fences(text):
                if code: continue
                ids.update(re.findall(r"\{[^}]*#([\w:.\-]+)", line))
                h = re.match(r"\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
                if h and not re.search(r"\{[^}]*#[\w:.\-]+[^}]*\}\s*$", h.group(1)):
                    base = pandoc_id(re.sub(r"\s*\{[^}]*\}\s*$", "", h.group(1)))
                    n = seen.get(base, 0); seen[base] = n + 1
                    ids.add(base if n == 0 else f"{base}-{n}")
    return ids

def links(proc_nb: dict) -> list[tuple[str, str, bool]]:
    "(where, url, inside a code block) for every link written in the page's markdown and HTML."
    res = []
    for i, cell in enumerate(proc_nb["cells"]):
        where = f"cell {i}"
        for kind, text in _texts(cell):
            if kind == "html":
                res += [(where, u, False) for u in _HREF.findall(text)]
                continue
            for line, code in _outside_fences(text):
                res += [(where, u, code) for u in _LINK.findall(line)]
                if not code: res += [(where, u, False) for u in _HREF.findall(line)]
    return res

def build_proc() -> None:
    "nbdev_proc_nbs as .ci/run runs it (no Quarto needed): _proc/ from nbs/."
    code = "import nbdev.quarto as q; q._ensure_quarto = lambda: None; q.nbdev_proc_nbs.__wrapped__(n_workers=1)"
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=1200)
    assert r.returncode == 0, f"nbdev_proc_nbs failed:\n{r.stderr[-3000:]}"

@lru_cache(None)
def site() -> dict:
    "{page.html: (notebook, processed notebook)} for every notebook of nbs/, processed afresh."
    build_proc()
    res = {}
    for nb in notebooks():
        proc = json.loads((PROC/nb).read_text(encoding="utf-8"))
        res[page_of(proc, nb)] = (nb, proc)
    return res

def link_problems(page: str, pages: dict, prefix: str) -> list[str]:
    "What is wrong with each internal link of `page` (pages: {page.html: processed notebook})."
    nb, problems, ids = pages[page], [], {p: None for p in pages}
    def ids_of(p):
        if ids[p] is None: ids[p] = anchors(pages[p])
        return ids[p]
    for where, url, code in links(nb):
        if code:
            problems.append(f"{where}: markdown link inside a code block, shown raw on the site: {url} "
                            "(a backticked name in a docments comment? write it without backticks)")
            continue
        if url.startswith(prefix): url = url[len(prefix):] or "index.html"
        parts = urlsplit(url)
        if parts.scheme or url.startswith("//"): continue                      # external
        path, frag = unquote(parts.path), unquote(parts.fragment)
        if path.endswith(".ipynb"): path = re.sub(r"^\d+_", "", Path(path).stem) + ".html"
        target = path or page
        if target not in pages:
            if path and (NBS/path).exists(): continue                        # a resource file shipped with the site
            problems.append(f"{where}: link to {url}: there is no page {target}")
        elif frag and frag not in ids_of(target):
            problems.append(f"{where}: link to {url}: {target} has no anchor #{frag}")
    return problems

def _pages_by_nb() -> dict:
    return {nb: page for page, (nb, _) in site().items()}

@pytest.mark.parametrize("nb", notebooks())
def test_internal_links_resolve(nb):
    pages = {p: proc for p, (_, proc) in site().items()}
    problems = link_problems(_pages_by_nb()[nb], pages, site_prefix())
    assert not problems, f"nbs/{nb} (as processed in _proc/):\n  " + "\n  ".join(problems)

def show_doc_problems(nb: dict) -> list[str]:
    "Cells with more than one show_doc call: Jupyter displays only the last, so the others get no heading (anchor)."
    res = []
    for i, cell in enumerate(nb["cells"]):
        calls = re.findall(r"^show_doc\((\w[\w.]*)", "".join(cell["source"]), flags=re.M) if cell["cell_type"] == "code" else []
        if len(calls) > 1:
            res.append(f"cell {i} (id {cell.get('id', '?')}): {len(calls)} show_doc calls ({', '.join(calls)}): only the last "
                       "is shown; give each its own cell")
    return res

@pytest.mark.parametrize("nb", notebooks())
def test_one_show_doc_per_cell(nb):
    problems = show_doc_problems(json.loads((NBS/nb).read_text(encoding="utf-8")))
    assert not problems, f"nbs/{nb}:\n  " + "\n  ".join(problems)

def _md_nb(*cells, front="output-file: a.html"):
    return {"cells": [{"cell_type": "raw", "source": f"---\n{front}\n---"}] +
            [{"cell_type": "markdown", "source": c} if isinstance(c, str) else c for c in cells]}

def test_the_check_finds_each_kind():
    "The check itself, on hand-made pages: missing page, missing anchor, link in code; good links pass."
    pre = "https://h.io/site/"
    show_doc = {"cell_type": "code", "source": "show_doc(f)", "outputs": [{"output_type": "execute_result", "data": {
        "text/markdown": "---\n\n### check_logits\n\n```python\ndef check_logits(\n    x, # a [`thing`](b.html#thing)\n)\n```"}}]}
    a = _md_nb("## The α-balanced loss {#sec-alpha}\n\nSee [x](b.html#thing), [y](#check_logits), [z](#sec-alpha),\n"
               f"[w]({pre}b.html#thing), [v](https://example.org/#nope), [u](03_b.ipynb), [t](#the-formulas)", show_doc)
    b = _md_nb("## The formulas\n\n### thing", front="output-file: b.html")
    pages = {"a.html": a, "b.html": b}
    problems = link_problems("a.html", pages, pre)
    assert len(problems) == 2 and any("inside a code block" in p for p in problems), problems
    assert any("a.html has no anchor #the-formulas" in p for p in problems), problems
    a["cells"].append({"cell_type": "markdown", "source": "[gone](c.html) [no anchor](b.html#_blank)"})
    assert len(link_problems("a.html", pages, pre)) == 4
    two = {"cell_type": "code", "source": "show_doc(f)\nshow_doc(g)", "outputs": []}
    assert len(show_doc_problems({"cells": [two, show_doc]})) == 1
    assert anchors(b) == {"the-formulas", "thing"}
    assert [pandoc_id(h) for h in ("`kld_loss`", "Explorer.set", "1. Why *this*?", "_blank", "The α lesson",
                                   "LiveTeacher.__call__", "The gradient: $T\\,(q - p)$")] == \
        ["kld_loss", "explorer.set", "why-this", "blank", "the-α-lesson", "liveteacher.__call__", "the-gradient-tq---p"]

def test_link_filter_ships_with_the_processed_site():
    "nbdev copies nbs/site_links.lua into _proc/, where Quarto (run in _proc/) finds the filter _quarto.yml names."
    site()
    assert (PROC/"site_links.lua").read_bytes() == (NBS/"site_links.lua").read_bytes()
    assert "site_links.lua" in (PROC/"_quarto.yml").read_text(encoding="utf-8")
