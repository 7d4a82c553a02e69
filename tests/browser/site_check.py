"""The rendered course site as a reader's browser sees it: every page of a Quarto render, in Chromium.

For each page of a rendered site (`nbdev_docs` writes it to _docs/), served over http on 127.0.0.1, at each
viewport width (1280 px: a laptop; 390 px: a phone), it measures:
- images: every <img> loaded (complete, with a natural width), lazy ones included;
- overflow: how far the page scrolls sideways (document scrollWidth − clientWidth, px), and what sticks out;
- console errors and uncaught exceptions (the site's own code and the libraries it loads), failed requests,
  and libraries loaded from npm CDNs without a pinned version (@*, @latest);
- hidden underscores: links whose text has an "_" and whose underline is drawn on it ("softmax_t" read as
  "softmax t"). Measured in pixels: a probe copy of the link holding only underscores is drawn twice, once
  with the underline made transparent (the underscores' ink rows) and once with the text made transparent
  (the underline's ink rows); the underscore is hidden when no blank pixel row separates the two.
Reported, not failed: code blocks and tables that scroll inside their own box.

Pages load KaTeX, mermaid, jQuery, require.js and the OJS libraries from CDNs. Where the machine reaches
only the package registries, `cdn_from_npm.py` (found through $CDN_FROM_NPM or ../shared/tools/ beside the
clone) answers those requests from npm packages of the same names and versions; without it, requests go to
the network as in a reader's browser.

    python tests/browser/site_check.py _docs [--widths 1280,390] [--shots DIR] [--pages a.html,b.html]
prints one line per page and width and exits 1 if any page fails. tests/browser/test_site_pages.py runs it
in CI on the site .ci/run has just rendered.
"""
import argparse, functools, http.server, importlib.util, io, os, re, shutil, sys, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from browser_common import launch  # noqa: E402

WIDTHS = (1280, 390)
HEIGHT = 900
GAP_ROWS = 1  # the underline must leave at least one blank pixel row between it and the underscores

def cdn_module():
    "The CDN stand-in module, or None (requests then go to the network)."
    for p in (os.environ.get("CDN_FROM_NPM", ""), ROOT.parent/"shared"/"tools"/"cdn_from_npm.py"):
        if p and Path(p).is_file() and shutil.which("npm"):
            spec = importlib.util.spec_from_file_location("cdn_from_npm", p)
            mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
            return mod
    return None

FONTS = ("fonts.googleapis.com", "fonts.gstatic.com")  # not on npm: answered with an empty stylesheet (fallback fonts)
CDN_TAG = re.compile(r'(<(?:script|link)\b[^>]*?(?:src|href)="https://(?:cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com)/[^"]*"[^>]*?)\s+integrity="[^"]*"')

NPM_CDN = re.compile(r"https://(?:cdn\.jsdelivr\.net/npm|unpkg\.com)/((?:@[^/]+/)?[^/@]+)(?:@([^/]*))?")

def unpinned(url: str) -> bool:
    "Whether an npm CDN URL leaves the version open (none, *, latest): the reader would get whatever is newest."
    m = NPM_CDN.match(url)
    return bool(m) and (m.group(2) or "latest") in ("*", "latest")

def cdn_route(cdn, base: str, r):
    """Answer a request through the CDN stand-in. The stand-in's files are npm's, not byte-identical to the CDN's
    minified builds, so the pages' integrity hashes on CDN tags are dropped (the site's own files are untouched)."""
    url = r.request.url
    if url.startswith(base) and (url.endswith(".html") or url.endswith("/")):
        resp = r.fetch()
        return r.fulfill(response=resp, body=CDN_TAG.sub(r"\1", resp.text()))
    if any(h in url for h in FONTS): return r.fulfill(status=200, content_type="text/css", body="")
    path, note = cdn.resolve(url)
    if path: r.fulfill(path=path, content_type=cdn.content_type(path))
    elif note == "not a CDN": r.continue_()
    else: r.abort()

def serve(root: Path):
    "Serve `root` on 127.0.0.1 (OJS pages do not run from file://): (base URL, server)."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/", srv

MEASURE_JS = r"""async () => {
  const imgs = Array.from(document.images);
  for (const i of imgs) i.loading = 'eager';
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000); })));
  const missing = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  const de = document.documentElement, W = de.clientWidth;
  const overflow = Math.max(de.scrollWidth, document.body.scrollWidth) - W;
  const culprits = [];
  // what sticks out: the innermost elements past the right edge that no scroll box or clip of theirs contains
  const clipped = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
                           if (getComputedStyle(p).overflowX !== 'visible') return true; return false; };
  if (overflow > 0) for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > W + 1 && !clipped(e) && !Array.from(e.children).some(c => c.getBoundingClientRect().right > W + 1))
      culprits.push(`${e.tagName.toLowerCase()}.${(e.className || '').toString().split(' ')[0]} right=${Math.round(r.right)}: ${(e.textContent || '').trim().slice(0, 50)}`);
    if (culprits.length >= 5) break;
  }
  const scrolls = sel => Array.from(document.querySelectorAll(sel)).filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).length;
  return {images: imgs.length, missing, overflow, culprits,
          code_scroll: scrolls('main pre'), table_scroll: scrolls('main .cell-output-display, main table')};
}"""

# one probe per distinct look of an underlined link with an underscore (font, size, decoration)
PROBES_JS = r"""() => {
  const seen = new Map();
  for (const a of document.querySelectorAll('a')) {
    if (!a.textContent.includes('_') || a.offsetParent === null || a.getBoundingClientRect().width === 0) continue;
    const cs = getComputedStyle(a);
    if (!cs.textDecorationLine.includes('underline')) continue;
    const inner = a.querySelector('code') || a;
    const ci = getComputedStyle(inner);
    const key = [cs.textDecorationThickness, cs.textUnderlineOffset, cs.textUnderlinePosition, cs.textDecorationSkipInk,
                 ci.fontFamily, ci.fontSize, ci.fontWeight, inner === a ? 'text' : 'code'].join('|');
    if (seen.has(key)) { seen.get(key).count++; continue; }
    const p = a.cloneNode(false); p.removeAttribute('id'); p.setAttribute('data-us-probe', seen.size);
    if (inner === a) p.textContent = '________';
    else { const c = inner.cloneNode(false); c.textContent = '________'; p.appendChild(c); }
    a.after(p);
    seen.set(key, {n: seen.size, key, count: 1, example: a.textContent.trim().slice(0, 40)});
  }
  return Array.from(seen.values());
}"""

STYLE_JS = r"""([n, mode]) => {
  const p = document.querySelector(`[data-us-probe="${n}"]`);
  for (const e of [p, ...p.querySelectorAll('*')]) {
    e.style.setProperty('background', 'transparent', 'important');
    e.style.setProperty('color', mode === 'text' ? 'rgb(0, 0, 0)' : 'transparent', 'important');
  }
  p.style.setProperty('text-decoration-color', mode === 'line' ? 'rgb(0, 0, 0)' : 'transparent', 'important');
  p.scrollIntoView({block: 'center'});
  const r = p.getBoundingClientRect();
  return {x: r.left, y: r.top, width: r.width, height: r.height};
}"""

def ink_rows(png: bytes, blank: bytes) -> set:
    "Rows of a screenshot that differ from the same clip with the probe drawn invisible (the probe's own ink)."
    from PIL import Image, ImageChops
    im, bg = (Image.open(io.BytesIO(x)).convert("L") for x in (png, blank))
    diff = ImageChops.difference(im, bg)
    w, h = diff.size
    px = diff.load()
    return {y for y in range(h) if any(px[x, y] > 40 for x in range(w))}

def hidden_underscores(page) -> list:
    "One entry per look of underlined links with an underscore whose underline touches the underscores."
    found = []
    for probe in page.evaluate(PROBES_JS):
        shots = {}
        for mode in ("none", "text", "line"):
            r = page.evaluate(STYLE_JS, [probe["n"], mode])
            if mode == "none":
                pad = 8   # the underline may be drawn below the link's box
                clip = {"x": max(r["x"] - 1, 0), "y": max(r["y"] - pad, 0), "width": r["width"] + 2, "height": r["height"] + 2 * pad}
            shots[mode] = page.screenshot(clip=clip)
        u, l = ink_rows(shots["text"], shots["none"]), ink_rows(shots["line"], shots["none"])
        gap = min((abs(a - b) for a in u for b in l), default=None)
        if gap is not None and gap <= GAP_ROWS:
            found.append(f"{probe['count']} link(s) like {probe['example']!r}: underline on rows {sorted(l)}, underscores on {sorted(u)}")
    page.evaluate("() => document.querySelectorAll('[data-us-probe]').forEach(p => p.remove())")
    return found

def check_page(page, url: str, width: int, shot: Path | None = None) -> dict:
    "Load `url` at `width` px and measure it (see the module docstring)."
    errors = []
    origin = url.split("/", 3)[:3]
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text} [{m.location.get('url', '')}]") if m.type == "error" else None)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
    cdn_urls = []
    page.on("request", lambda r: cdn_urls.append(r.url) if NPM_CDN.match(r.url) else None)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.goto(url, wait_until="load")
    try: page.wait_for_load_state("networkidle", timeout=20_000)
    except Exception: errors.append("network still busy 20 s after load")
    time.sleep(0.5)
    res = page.evaluate(MEASURE_JS)
    res["hidden_underscores"] = hidden_underscores(page) if width >= 1000 else []
    res["errors"] = errors
    res["unpinned"] = sorted({NPM_CDN.match(u).group(0) for u in cdn_urls if unpinned(u)})
    if shot: page.screenshot(path=str(shot), full_page=True)
    return res

def failures(res: dict) -> list:
    "What fails a page: a missing image, a sideways scroll, a console error, an underscore hidden by its link."
    out = []
    if res["missing"]: out.append(f"images not loaded: {res['missing']}")
    if res["overflow"] > 0: out.append(f"page scrolls sideways by {res['overflow']} px: {res['culprits']}")
    out += res["errors"]
    out += [f"library loaded without a pinned version: {u}" for u in res.get("unpinned", [])]
    out += [f"hidden underscore: {h}" for h in res["hidden_underscores"]]
    return out

def check_site(site: Path, widths=WIDTHS, shots: Path | None = None, pages=None, log=print) -> dict:
    "{(page, width): measurements} for every HTML page of `site` (or `pages`)."
    from playwright.sync_api import sync_playwright
    cdn = cdn_module()
    log(f"CDN requests: {'answered from npm by ' + cdn.__file__ if cdn else 'sent to the network'}")
    names = pages or sorted(p.name for p in site.glob("*.html"))
    base, srv = serve(site)
    results = {}
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                for name in names:
                    for w in widths:
                        ctx = browser.new_context(viewport={"width": w, "height": HEIGHT})
                        if cdn: ctx.route("**/*", functools.partial(cdn_route, cdn, base))
                        page = ctx.new_page()
                        shot = shots/f"{Path(name).stem}-{w}.png" if shots else None
                        res = check_page(page, base + name, w, shot)
                        results[(name, w)] = res
                        fails = failures(res)
                        log(f"{name:32s} {w:5d}px  images {res['images'] - len(res['missing'])}/{res['images']}  "
                            f"overflow {res['overflow']:4d}px  errors {len(res['errors'])}  hidden_ {len(res['hidden_underscores'])}  "
                            f"code boxes scrolling {res['code_scroll']}  tables scrolling {res['table_scroll']}"
                            + "".join(f"\n    FAIL {f}" for f in fails))
                        ctx.close()
            finally:
                browser.close()
    finally:
        srv.shutdown(); srv.server_close()
    return results

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("site", type=Path, help="the rendered site (nbdev_docs: _docs)")
    ap.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    ap.add_argument("--shots", type=Path, help="save a full-page screenshot of each page and width here")
    ap.add_argument("--pages", help="comma-separated page names (default: every *.html)")
    a = ap.parse_args(argv)
    if a.shots: a.shots.mkdir(parents=True, exist_ok=True)
    res = check_site(a.site, tuple(int(w) for w in a.widths.split(",")), a.shots, a.pages.split(",") if a.pages else None)
    bad = {k: failures(v) for k, v in res.items() if failures(v)}
    print(f"{len(res) - len(bad)} of {len(res)} page views pass")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
