"""Quarto post-render step (_quarto.yml, project: post-render): pin the CDN libraries the pages load to one release.

Two libraries come into the pages with an open version, so a reader's browser would get whatever release the
CDN calls the latest:
- KaTeX, `katex@latest` (pandoc's default URL). Setting `html-math-method: {method: katex, url: ...}` instead
  drops Quarto's guard that keeps require.js from swallowing KaTeX ("katex is not defined" on every page with
  widgets, seen with Quarto 1.7.34), so the URL is pinned here, to the release tests/test_site_math.py renders
  every formula with (tests/site/package-lock.json).
- The Jupyter widgets manager, `@jupyter-widgets/html-manager@*` (written by Quarto, src/core/jupyter/widgets.ts).
  The lessons' widget state is protocol 2 (ipywidgets 8, models @jupyter-widgets/base 2.0.0), read by
  html-manager 1.x: pinned to the release the site was checked with.
_quarto.yml names it as ../scripts/pin_cdn.py: Quarto runs it from the project folder, which is nbs/ for
`quarto render nbs` and _proc/ for nbdev_docs, both beside scripts/. tests/test_site_config.py checks it.
"""
import os, re, sys
from pathlib import Path

PINS = {"katex": "0.16.47", "@jupyter-widgets/html-manager": "1.0.15"}
OPEN = re.compile(r"(https://(?:cdn\.jsdelivr\.net/npm|unpkg\.com)/)(" + "|".join(map(re.escape, PINS)) + r")@(?:\*|latest)/")

def pin(html: str) -> str: return OPEN.sub(lambda m: f"{m.group(1)}{m.group(2)}@{PINS[m.group(2)]}/", html)

def pages(out: Path) -> list[Path]:
    "The HTML files this render wrote (QUARTO_PROJECT_OUTPUT_FILES), else every page under `out`."
    listed = [Path(p) for p in os.environ.get("QUARTO_PROJECT_OUTPUT_FILES", "").splitlines() if p.endswith(".html")]
    return listed or sorted(out.rglob("*.html"))

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_docs"))
    for f in pages(out):
        if f.exists() and (text := f.read_text(encoding="utf-8")) != (new := pin(text)): f.write_text(new, encoding="utf-8")
