"""The _quarto.yml settings that broke the website build stay out.

Seen with a real Quarto (1.7): `keep-md: false` together with the `commonmark` output format makes
`nbdev_docs` fail on the index page (quarto-cli issue #14669, fixed only in 1.10.15+), and any
non-HTML format turns each ```{mermaid} diagram into an image through headless Chrome ("Chrome not
found" without it), stores every figure twice and adds an "Other formats" link. The site must build
on Quarto 1.4 to the newest with no browser: HTML only, mermaid drawn in the reader's browser.
Quarto is not needed to check this.
"""
import configparser, re, shutil, subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
# output formats that write markdown next to the HTML (nbdev's default template adds commonmark)
MARKDOWN_FORMATS = ("commonmark", "gfm", "markdown", "md", "markdown_strict", "markua")

def quarto_problems(cfg: dict) -> list[str]:
    "What in a parsed _quarto.yml would break the build on some Quarto 1.4+ or need a browser (empty: fine)."
    fmts = cfg.get("format") or {}
    if isinstance(fmts, str): fmts = {fmts: "default"}
    problems = []
    base = {name: name.split("+")[0].split("-")[0] for name in fmts}
    md = [n for n, b in base.items() if b in MARKDOWN_FORMATS]
    html = fmts.get("html") if isinstance(fmts.get("html"), dict) else {}
    if md and any(isinstance(o, dict) and o.get("keep-md") is False for o in fmts.values()):
        problems.append(f"keep-md: false with the {md} format(s) fails on the index page before Quarto 1.10.15 "
                        "(quarto-cli #14669)")
    others = [n for n in fmts if base[n] != "html"]
    if others:
        problems.append(f"format(s) {others} besides html: each renders mermaid diagrams to images with headless "
                        "Chrome, stores figures twice and adds an 'Other formats' link; keep html only")
    if "html" not in fmts: problems.append("no html format")
    if html.get("mermaid-format", "js") != "js":
        problems.append(f"mermaid-format: {html['mermaid-format']} needs Chrome at build time; leave the default (js)")
    return problems

def load_config() -> dict: return yaml.safe_load((ROOT/"_quarto.yml").read_text(encoding="utf-8"))

def test_quarto_yml_builds_without_a_browser():
    problems = quarto_problems(load_config())
    assert not problems, "_quarto.yml: " + "; ".join(problems)

@pytest.mark.parametrize("broken", [
    {"format": {"html": {"keep-md": False}, "commonmark": "default"}},   # what broke nbdev_docs (#14669)
    {"format": {"html": {"keep-md": True}, "commonmark": "default"}},    # still needs Chrome for mermaid
    {"format": {"html": {"keep-md": False}, "gfm": "default"}},
    {"format": {"html": {"mermaid-format": "png"}}},
    {"format": {"pdf": "default"}},
])
def test_the_broken_settings_are_rejected(broken):
    "The check itself: each setting that broke (or would break) the build is reported."
    assert quarto_problems(broken)

def _site_prefix() -> str:
    ini = configparser.ConfigParser(); ini.read(ROOT/"settings.ini")
    d = ini["DEFAULT"]
    return d["doc_host"].rstrip("/") + "/" + d["doc_baseurl"].strip("/") + "/"

def test_link_filter_is_used_and_knows_the_site():
    "nbs/site_links.lua is a filter of the site and rewrites exactly settings.ini's doc_host + doc_baseurl."
    cfg = load_config()
    assert "site_links.lua" in (cfg.get("filters") or []), "_quarto.yml must list site_links.lua under filters:"
    lua = (NBS/"site_links.lua").read_text(encoding="utf-8")
    site = re.search(r'local SITE = "([^"]+)"', lua).group(1)
    assert site == _site_prefix(), f"site_links.lua rewrites {site} but settings.ini says {_site_prefix()}"

@pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc is not on the PATH (Quarto bundles its own): "
                    "the filter's effect is not checked here")
def test_link_filter_makes_site_links_relative():
    "Run the filter with pandoc: links into the site become page-relative, other links stay."
    site = _site_prefix()
    md = f"[a]({site}losses.html#kld_loss) [b]({site}) [c](https://example.org/x.html) [d](alpha.html)"
    html = subprocess.run(["pandoc", "--lua-filter", str(NBS/"site_links.lua"), "-t", "html"], input=md,
                          capture_output=True, text=True, check=True).stdout
    assert re.findall(r'href="([^"]+)"', html) == ["losses.html#kld_loss", "index.html", "https://example.org/x.html",
                                                   "alpha.html"]

def _pin_cdn():
    import importlib.util
    spec = importlib.util.spec_from_file_location("pin_cdn", ROOT/"scripts"/"pin_cdn.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_cdn_libraries_are_pinned_after_render(tmp_path, monkeypatch):
    """The post-render step rewrites katex@latest to the KaTeX the formula check uses, and html-manager@* to one 1.x
    release, which reads the lessons' widget state (protocol 2). `html-math-method` stays the plain string: with
    {method, url} Quarto drops its require.js guard and KaTeX fails on the widget pages."""
    import json
    cfg = load_config()
    assert "../scripts/pin_cdn.py" in (cfg["project"].get("post-render") or []), "_quarto.yml must run ../scripts/pin_cdn.py post-render"
    assert cfg["format"]["html"]["html-math-method"] == "katex"
    pin = _pin_cdn()
    lock = json.loads((ROOT/"tests"/"site"/"package-lock.json").read_text(encoding="utf-8"))
    assert pin.PINS["katex"] == lock["packages"]["node_modules/katex"]["version"], "pin the KaTeX that tests/site installs"
    assert pin.PINS["@jupyter-widgets/html-manager"].split(".")[0] == "1"
    for nb in NBS.glob("*.ipynb"):
        state = json.loads(nb.read_text(encoding="utf-8"))["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
        if state: assert state["version_major"] == 2, f"{nb.name}: widget state protocol {state['version_major']} needs another html-manager"
    # as Quarto 1.7.34 writes them
    head = ('<script src="https://unpkg.com/@jupyter-widgets/html-manager@*/dist/embed-amd.js" crossorigin="anonymous"></script>'
            '<script defer="" src="https://cdn.jsdelivr.net/npm/katex@latest/dist/katex.min.js"></script>'
            '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@latest/dist/katex.min.css">')
    page = tmp_path/"alpha.html"; page.write_text(f"<head>{head}</head>")
    monkeypatch.delenv("QUARTO_PROJECT_OUTPUT_FILES", raising=False)
    assert pin.pages(tmp_path) == [page]
    page.write_text(pin.pin(page.read_text()))
    text = page.read_text()
    assert "@*" not in text and "@latest" not in text, text
    assert text.count(f"katex@{pin.PINS['katex']}/dist/") == 2 and f"html-manager@{pin.PINS['@jupyter-widgets/html-manager']}/" in text
