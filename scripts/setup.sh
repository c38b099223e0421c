#!/usr/bin/env bash
# Set up emoflow in a local virtual environment (.venv) on a fresh machine with Python 3.11.
# Idempotent: re-running only installs what is missing. Usage: scripts/setup.sh [--cluster]
set -euo pipefail
CLUSTER=no
for arg in "$@"; do
    case $arg in
        --cluster) CLUSTER=yes ;;
        *) echo "scripts/setup.sh: unknown argument '$arg' (usage: scripts/setup.sh [--cluster])" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# requirements/constraints.txt holds the exact versions the project tests with: torch==2.13.0
# resolves to a local CPU build, where the package's own range (torch>=2.4) would download
# several GB of CUDA wheels. Every pip call below goes through it.
CONSTRAINTS=(-c requirements/constraints.txt)
.venv/bin/python -m pip install -q "${CONSTRAINTS[@]}" -r requirements/base.txt -r requirements/dev.txt
# MediaPipe 0.10.21 is the last release whose wheel ships the Face Mesh models. Its metadata
# pins numpy<2 and pulls jax and opencv-contrib-python (which would overwrite the headless
# OpenCV); its Face Mesh runs fine on numpy 2 with the dependencies in base.txt.
.venv/bin/python -m pip install -q "${CONSTRAINTS[@]}" --no-deps mediapipe==0.10.21
.venv/bin/python -m pip install -q "${CONSTRAINTS[@]}" --no-deps -e .
# The cluster executors of profiles/slurm and profiles/generic are an optional extra
# (requirements/cluster.txt): with --cluster (make cluster-setup; make test runs it).
if [ "$CLUSTER" = yes ]; then
    .venv/bin/python -m pip install -q "${CONSTRAINTS[@]}" -r requirements/cluster.txt
fi
# an editable install is not byte-compiled by pip; every workflow job imports the package
.venv/bin/python -m compileall -q emoflow
.venv/bin/python -c "import emoflow, mediapipe, torch; print('emoflow', emoflow.__version__, '| torch', torch.__version__, '| mediapipe', mediapipe.__version__)"
