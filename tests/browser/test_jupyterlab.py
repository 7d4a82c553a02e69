"""A learner's view of the temperature lesson: JupyterLab in a real Chromium, driven by Playwright.

Starts `jupyter lab` on 127.0.0.1 with a random token and a free port, serving a temporary copy of
the lesson notebook (the repository's file is never touched), opens it, runs all cells, drags the
temperature slider of the ipywidgets explorer, and checks that the plot changed and that no cell
shows an error. Saves a screenshot and stops the server.

Run it with `bash tests/browser/run.sh` (it installs Chromium when missing). It is marked `slow`
and `browser` and skips unless DISTILL_EDU_BROWSER=1, so the fast and slow suites pass over it.
Environment: CHROMIUM (default /usr/bin/chromium), BROWSER_NOTEBOOK (default
nbs/02_temperature.ipynb), BROWSER_ARTIFACTS (default .ci-html/), BROWSER_RUN_TIMEOUT (seconds
for "run all", default 300).
"""
import json, os, re, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

from browser_common import ARTIFACTS, BROWSER_MARKS, ROOT, launch

NOTEBOOK = Path(os.environ.get("BROWSER_NOTEBOOK", ROOT/"nbs"/"02_temperature.ipynb"))
RUN_TIMEOUT = float(os.environ.get("BROWSER_RUN_TIMEOUT", 300))
pytestmark = BROWSER_MARKS

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def wait_for(pred, timeout: float, what: str, interval: float = 0.5):
    "Poll `pred()` until it returns something truthy; fail with `what` after `timeout` seconds."
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        res = pred()
        if res: return res
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

@pytest.fixture
def jupyterlab(tmp_path):
    "A JupyterLab server on a temporary copy of NOTEBOOK: yields (base_url, token, notebook name)."
    if not NOTEBOOK.exists(): pytest.fail(f"{NOTEBOOK} does not exist (set BROWSER_NOTEBOOK to test another notebook)")
    work = tmp_path/"nbs"; work.mkdir()
    shutil.copy(NOTEBOOK, work/NOTEBOOK.name)
    for sibling in NOTEBOOK.parent.glob("*.ipynb"):   # lessons read each other's saved outputs (e.g. 02 checks 01's figures)
        if not (work/sibling.name).exists(): shutil.copy(sibling, work/sibling.name)
    settings = tmp_path/"lab-settings"
    # no news or update pop-ups over the notebook
    (settings/"@jupyterlab"/"apputils-extension").mkdir(parents=True)
    (settings/"@jupyterlab"/"apputils-extension"/"notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token, port = secrets.token_hex(16), free_port()
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # Agg would hide the inline plots
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path/"runtime"), JUPYTER_CONFIG_DIR=str(tmp_path/"config"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path/"workspaces"),
               IPYTHONDIR=str(tmp_path/"ipython"))
    log = open(tmp_path/"jupyterlab.log", "w")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0: cmd.append("--allow-root")  # CI containers run as root
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {proc.returncode}:\n{(tmp_path/'jupyterlab.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r: return r.status == 200
        except OSError: return False
    try:
        wait_for(ready, 90, "jupyter lab to answer")
        yield base, token, NOTEBOOK.name
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try: proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)
        log.close()
        print(f"\njupyter lab log: {tmp_path/'jupyterlab.log'}")

# JavaScript run in the page (window.jupyterapp exists because of expose_app_in_browser)
JS_KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
            && w.sessionContext.kernelDisplayStatus === 'idle'); }"""
JS_CELLS = """() => { const w = window.jupyterapp.shell.currentWidget; const cells = w.content.model.cells; const res = [];
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i); if (c.type !== 'code') continue;
    res.push({index: i, count: c.executionCount, errors: c.outputs.toJSON().filter(o => o.output_type === 'error')
              .map(o => `${o.ename}: ${o.evalue}`)}); }
  return {status: w.sessionContext.kernelDisplayStatus, cells: res}; }"""
SLIDER = ".jp-OutputArea .widget-slider"

def slider_state(page, slider):
    "The slider's label and readout, and a SHA-256 of each image (plot) in the output of the cell that holds it."
    return slider.evaluate("""async (s) => {
      const cell = s.closest('.jp-Cell');
      const digest = async (img) => {
        const bytes = await (await fetch(img.src)).arrayBuffer();  // data: or blob: URLs
        const h = await crypto.subtle.digest('SHA-256', bytes);
        return Array.from(new Uint8Array(h)).map(b => b.toString(16).padStart(2, '0')).join('') + ':' + bytes.byteLength;
      };
      const imgs = Array.from(cell.querySelectorAll('.jp-OutputArea img')).filter(i => i.src);
      return {label: (s.querySelector('.widget-label') || {}).textContent || '',
              readout: (s.querySelector('.widget-readout') || {}).textContent || '',
              images: await Promise.all(imgs.map(digest))}; }""")

def drag(page, slider, dx: float):
    "Drag the slider's handle `dx` pixels with the mouse, as a learner would."
    box = slider.locator(".noUi-handle").first.bounding_box()
    assert box, "the slider handle is not visible"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y); page.mouse.down()
    page.mouse.move(x + dx, y, steps=8); page.mouse.up()

def page_errors(page):
    "Error text shown anywhere in the notebook: tracebacks (stderr outputs) and widgets that failed to render."
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"], .jp-Notebook .jupyter-widgets .jp-RenderedText'))
      .map(e => e.textContent).concat(Array.from(document.querySelectorAll('.jp-Notebook *'))
      .filter(e => e.children.length === 0 && /Error (displaying|rendering) widget/.test(e.textContent)).map(e => e.textContent))
      .filter(t => /Error|Traceback/.test(t))""")

def test_temperature_lesson_in_jupyterlab(jupyterlab):
    from playwright.sync_api import sync_playwright
    base, token, name = jupyterlab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS/"jupyterlab_temperature.png"
    t0 = time.monotonic()
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console_errors = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_function(JS_KERNEL_IDLE, timeout=120_000)
            print(f"\nJupyterLab open with an idle kernel after {time.monotonic() - t0:.1f}s")

            t_run = time.monotonic()
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            def all_ran():
                st = page.evaluate(JS_CELLS)
                return st if st["status"] == "idle" and all(c["count"] for c in st["cells"]) else None
            st = wait_for(all_ran, RUN_TIMEOUT, "all cells to run")
            print(f"ran {len(st['cells'])} code cells in {time.monotonic() - t_run:.1f}s")
            errors = [f"cell {c['index']}: {e}" for c in st["cells"] for e in c["errors"]]
            assert not errors, f"cells raised errors: {errors}"

            # the temperature explorer: an ipywidgets slider whose label mentions T / temperature
            page.wait_for_selector(SLIDER, timeout=60_000)
            sliders = page.locator(SLIDER)
            labels = [sliders.nth(i).locator(".widget-label").inner_text() for i in range(sliders.count())]
            pick = next((i for i, l in enumerate(labels) if re.search(r"\bT\b|temp", l, flags=re.I)), 0)
            slider = sliders.nth(pick)
            slider.scroll_into_view_if_needed()
            before = wait_for(lambda: (s := slider_state(page, slider))["images"] and s, 60, "the explorer's plot")
            print(f"slider {before['label']!r} at {before['readout']!r}, {len(before['images'])} image(s) in its cell")

            def changed():
                s = slider_state(page, slider)
                return s if s["readout"] != before["readout"] and s["images"] and s["images"] != before["images"] else None
            try:
                drag(page, slider, +25)
                try: after = wait_for(changed, 10, "the slider to move right")
                except AssertionError:  # already at its right end: move it left instead
                    drag(page, slider, -60)
                    after = wait_for(changed, 60, "the plot to change after the slider moved")
            finally: page.screenshot(path=str(shot))
            print(f"slider moved to {after['readout']!r}; the plot changed (image sha256:bytes "
                  f"{before['images']} -> {after['images']})")
            page.wait_for_function(JS_KERNEL_IDLE, timeout=60_000)

            st = page.evaluate(JS_CELLS)
            errors = [f"cell {c['index']}: {e}" for c in st["cells"] for e in c["errors"]] + page_errors(page)
            assert not errors, f"errors shown after moving the slider: {errors}"
            widget_errors = [e for e in console_errors if re.search(r"widget|model", e, flags=re.I)]
            assert not widget_errors, f"the browser console reports widget errors: {widget_errors}"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    print(f"screenshot: {shot}\nbrowser test took {time.monotonic() - t0:.1f}s")
