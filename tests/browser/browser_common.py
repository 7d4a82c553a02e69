"""What the real-browser tests share: paths, the system Chromium and its flags, the markers."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT/".ci-html"))  # screenshots
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's; Playwright's own download fails offline
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

# marked slow (out of the fast suite) and browser; skipped unless tests/browser/run.sh runs them
BROWSER_MARKS = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("DISTILL_EDU_BROWSER") != "1",
                       reason="real-browser test: run it with  bash tests/browser/run.sh"),
]

def launch(pw):
    "The system Chromium, headless, through Playwright."
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
