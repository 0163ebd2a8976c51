#!/usr/bin/env bash
# Re-trains xmodal's starter models from the installed real data (scripts/install-data.sh) and
# writes them into the package (src/xmodal/starters/), printing the held-out figures.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m xmodal.train.starters image --out src/xmodal/starters/image
"$PY" -m xmodal.train.starters audio --out src/xmodal/starters/audio
