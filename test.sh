#!/usr/bin/env bash
# Runs the fast test suite: every notebook headless (nbdev_test) and the tests in tests/ (pytest).
# Slow checks (a real teacher and real reviews):  nbdev_test --flags slow  and  pytest -m slow
set -euo pipefail
cd "$(dirname "$0")"
nbdev_test --n_workers 2 --timing
python -m pytest tests -m "not slow" -q
