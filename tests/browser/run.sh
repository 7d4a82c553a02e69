#!/usr/bin/env bash
# The real-browser tests, in Debian's Chromium driven by Playwright: JupyterLab running the
# temperature lesson (tests/browser/test_jupyterlab.py) and the live-sliders page's OJS blocks
# (tests/browser/test_live_sliders.py), and every page of a rendered site where DISTILL_EDU_SITE names one
# (tests/browser/test_site_pages.py, after .ci/run has run nbdev_docs). Installs Chromium with apt-get when it is missing; if it
# cannot be installed, prints why and exits 0 (skip). Run from anywhere:  bash tests/browser/run.sh
# Screenshots go to .ci-html/jupyterlab_temperature.png and .ci-html/live_sliders.png
# (BROWSER_ARTIFACTS to change the folder).
set -euo pipefail
cd "$(dirname "$0")/../.."

find_chromium() { command -v chromium || command -v chromium-browser || true; }
CHROMIUM=${CHROMIUM:-$(find_chromium)}
if [ -z "$CHROMIUM" ]; then
  echo "chromium not found: installing chromium and chromium-driver with apt-get"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
  fi
  if ! { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium chromium-driver; }; then
    echo "SKIPPED the real-browser test: chromium could not be installed with apt-get"
    echo "(needs root or passwordless sudo and a reachable Debian mirror); install chromium and rerun tests/browser/run.sh"
    exit 0
  fi
  CHROMIUM=$(find_chromium)
  if [ -z "$CHROMIUM" ]; then
    echo "SKIPPED the real-browser test: apt-get finished but no chromium binary is on the PATH"
    exit 0
  fi
fi
echo "chromium: $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null | head -n1))"

# Playwright drives the system chromium (its own browser download is not needed)
python -c "import playwright" 2>/dev/null || python -m pip install -q playwright

# The Observable libraries for the live-sliders check (test_live_sliders.py), installed with npm
# outside the repository and bundled offline with esbuild; without npm that check skips.
OJS_DIR=${DISTILL_EDU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distill_edu}/ojs-harness
if command -v npm >/dev/null 2>&1; then
  mkdir -p "$OJS_DIR"
  cp tests/browser/ojs/package.json tests/browser/ojs/entry.js "$OJS_DIR/"
  if (cd "$OJS_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null &&
      ./node_modules/.bin/esbuild entry.js --bundle --format=iife --outfile=ojs-bundle.js --log-level=warning); then
    export OJS_BUNDLE="$OJS_DIR/ojs-bundle.js"
  else
    echo "could not install or bundle the Observable libraries with npm: the live-sliders check will skip"
  fi
else
  echo "npm not found: the live-sliders check will skip"
fi

start=$(date +%s)
DISTILL_EDU_BROWSER=1 CHROMIUM="$CHROMIUM" python -m pytest tests/browser -m browser -q -s -rs
echo "real-browser test finished in $(( $(date +%s) - start ))s"
