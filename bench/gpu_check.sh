#!/usr/bin/env bash
# The GPU check of TransformersModel's overhead (issue 13), prepared to run as is on a CUDA machine.
#
#   bash bench/gpu_check.sh            # from the repository root (or anywhere: it finds the root)
#
# Builds a ~150M-parameter GPT-2 with random weights in bf16 on the GPU (saved to a temporary
# folder, nothing downloaded), then times TransformersModel.agenerate against raw model.generate
# for 256 new tokens (medians of 5 rounds; the old hand-written criterion 3 rounds) and prints
# one JSON line on stdout (a readable table on stderr). Needs python3 with CUDA torch,
# transformers and tokenizers (the device image has them); installs nothing. About 1-2 minutes
# on an H100; no old-criterion round starts after 100 s of measuring, so the whole run stays
# under 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import torch, transformers, tokenizers, sys; sys.exit(0 if torch.cuda.is_available() else 3)'; then
    echo '{"error": "bench/gpu_check.sh needs python3 with CUDA torch, transformers and tokenizers (set PYTHON=...)"}'
    exit 1
fi
PYTHONUNBUFFERED=1 exec "$PY" bench/bench_transformers.py --gpu "$@"
