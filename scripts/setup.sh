#!/usr/bin/env bash
# Create .venv and install mat2torch into it (not editable, as a user would get it).
#   bash scripts/setup.sh        # the tool
#   bash scripts/setup.sh test   # the tool and the test dependencies
# torch is installed first at a pinned CPU build: a bare "torch" requirement would pull a
# multi-GB CUDA build on a machine that has no torch yet.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet "torch==2.13.0"
if [ "${1:-}" = "test" ]; then
    .venv/bin/python -m pip install --quiet ".[test]"
else
    .venv/bin/python -m pip install --quiet .
fi
