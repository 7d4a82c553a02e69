"""The live sliders page's OJS blocks, run in a real Chromium with the real Observable libraries.

Quarto cannot be installed here, so this runs the ```{ojs} blocks of nbs/06_live_sliders.ipynb with
a small stand-in for Quarto's OJS compiler (tests/browser/ojs/run.js) and the Observable runtime,
stdlib, Inputs, Plot and parser bundled offline (tests/browser/run.sh builds ojs-bundle.js with npm
and esbuild outside the repository and passes its path in OJS_BUNDLE). It serves the page with
nbs/explorers.js and nbs/live_sliders.json over http (OJS does not run from file://), checks that
every cell runs without an error, moves the sliders with the mouse and the keyboard, and compares
the numbers the page prints with the Python library. Saves a screenshot.
"""
import functools, http.server, json, math, os, re, shutil, threading, time
from pathlib import Path

import pytest
import torch

from browser_common import ARTIFACTS, BROWSER_MARKS, ROOT, launch
from distill_edu.core import softmax_t, entropy
from distill_edu.losses import balanced_loss

NBS, HARNESS = ROOT/"nbs", Path(__file__).resolve().parent/"ojs"
BUNDLE = os.environ.get("OJS_BUNDLE", "")
pytestmark = BROWSER_MARKS

def ojs_blocks() -> list[str]:
    nb = json.loads((NBS/"06_live_sliders.ipynb").read_text(encoding="utf-8"))
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.findall(r"^```\{ojs\}\n(.*?)^```", md, flags=re.S | re.M)

@pytest.fixture
def site(tmp_path):
    "The page's files served over http on 127.0.0.1: yields the page URL."
    if not (BUNDLE and Path(BUNDLE).exists()):
        pytest.skip("OJS_BUNDLE is not set: tests/browser/run.sh builds it with npm (npm missing or the install failed)")
    root = tmp_path/"site"; root.mkdir()
    (root/"cells.json").write_text(json.dumps(ojs_blocks()))
    for f in ("explorers.js", "live_sliders.json"): shutil.copy(NBS/f, root/f)
    for f in ("run.js", "index.html"): shutil.copy(HARNESS/f, root/f)
    shutil.copy(BUNDLE, root/"ojs-bundle.js")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try: yield f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    finally: srv.shutdown(); srv.server_close()

def captions(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('figcaption, #root p')).map(e => e.textContent.replace(/\\s+/g, ' ').trim())")

def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]

def settle(page, pred_js: str, timeout=15_000):
    page.wait_for_function(pred_js, timeout=timeout)
    time.sleep(0.3)

def test_live_sliders_page_runs_in_chromium(site):
    from playwright.sync_api import sync_playwright
    d = json.loads((NBS/"live_sliders.json").read_text(encoding="utf-8"))
    zt, zs = torch.tensor(d["teacher_logits"], dtype=torch.float64), torch.tensor(d["student_logits"], dtype=torch.float64)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS/"live_sliders.png"
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            problems = []
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.goto(site)
            settle(page, "() => window.ojsState && window.ojsState.done && document.querySelectorAll('figcaption').length >= 4")
            state = page.evaluate("() => window.ojsState")
            assert not state["errors"] and not problems, (state["errors"], problems)
            print(f"\n{state['cells']} OJS cells ran; captions: {captions(page)}")

            # the self-check cell: the browser reproduces the JSON's Python reference values
            check = next(c for c in captions(page) if c.startswith("Largest difference"))
            assert numbers(check)[0] < 1e-8, check  # the JSON keeps 10 significant digits

            ranges = page.locator("input[type=range]")
            assert ranges.count() == 3, "expected the T slider, then the α and T sliders of the α explorer"
            # the temperature slider is log-scaled over 0.1 to 20
            lo, hi = float(ranges.nth(0).get_attribute("min")), float(ranges.nth(0).get_attribute("max"))
            assert math.isclose(lo, math.log(0.1), rel_tol=1e-6) and math.isclose(hi, math.log(20), rel_tol=1e-6), (lo, hi)

            # a learner clicks three quarters along the T slider: the teacher's chart and numbers change
            before, bars_before = captions(page)[0], page.locator("svg").first.inner_html()
            box = ranges.nth(0).bounding_box()
            page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
            settle(page, f"() => document.querySelector('figcaption').textContent !== {json.dumps(before)}")
            after = captions(page)[0]
            assert page.locator("svg").first.inner_html() != bars_before, "the teacher's bars did not change"
            T_shown = numbers(after)[0]
            assert 2 < T_shown < 20, after
            print(f"T slider moved: {before!r} -> {after!r}")

            # exact values typed into the number boxes: the printed numbers are the library's
            numboxes = page.locator("input[type=number]")
            numboxes.nth(0).fill("3.5"); numboxes.nth(0).press("Enter")
            settle(page, "() => document.querySelector('figcaption').textContent.includes('T = 3.50')")
            teacher, student = captions(page)[:2]
            for caption, z in ((teacher, zt), (student, zs)):
                T, H, pmax = numbers(caption)
                p = softmax_t(z, 3.5)
                assert abs(H - entropy(p).item()) < 6e-4 and abs(pmax - p.max().item()) < 6e-4, (caption, entropy(p), p.max())

            page.get_by_label("mse").check()
            numboxes.nth(1).fill("0.3"); numboxes.nth(1).press("Enter")
            numboxes.nth(2).fill("4"); numboxes.nth(2).press("Enter")
            settle(page, "() => Array.from(document.querySelectorAll('figcaption')).some(f => f.textContent.includes('α = 0.30, T = 4.00'))")
            alpha_cap = next(c for c in captions(page) if c.startswith("α = "))
            hard = torch.nn.functional.cross_entropy(zs[None], torch.tensor([d["label"]]))
            for soft, want_alpha in (("mse", 0.3),):
                want = balanced_loss(hard, zt[None], zs[None], soft_loss=soft, alpha=want_alpha, temperature=4.0).item()
                assert abs(numbers(alpha_cap)[-1] - want) < 6e-4, (alpha_cap, want)
            # α = 0 (keyboard: Home) leaves only the soft loss
            ranges.nth(1).focus(); page.keyboard.press("Home")
            settle(page, "() => Array.from(document.querySelectorAll('figcaption')).some(f => f.textContent.includes('α = 0.00'))")
            alpha_cap = next(c for c in captions(page) if c.startswith("α = "))
            mse = balanced_loss(hard, zt[None], zs[None], soft_loss="mse", alpha=0.0, temperature=4.0).item()
            assert abs(numbers(alpha_cap)[-1] - mse) < 6e-4, (alpha_cap, mse)
            print(f"α explorer: {alpha_cap!r}")

            state = page.evaluate("() => window.ojsState")
            assert not state["errors"] and not problems, (state["errors"], problems)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {shot}")
