#!/usr/bin/env bash
# Side-by-side inference throughput: dino4j vs PyTorch and ONNX Runtime, same machine, same minute.
# Needs the peer stack: ../shared/bench/setup_peers.sh (installs into /opt/dino4j-peers).
# Usage: bench/compare.sh [MODEL...]   (default: vits14 vitb14), batches 1 and 8, threads = cores
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
peers="${PEERS:-/opt/dino4j-peers}"
script="${PEER_SCRIPT:-$here/../shared/bench/vit_infer_peers.py}"
threads="${THREADS:-$(nproc)}"
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(vits14 vitb14)
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
for m in "${models[@]}"; do
  for b in 1 8; do
    "$here/dino4j" bench --model "dinov2_$m" --batch "$b" --threads "$threads" --no-gemm --json --iters 5 --warmup 3
    PYTHONPATH="$peers" python3 "$script" --model "$m" --batch "$b" --threads "$threads" \
      --engines torch-sdpa,onnxruntime 2>/dev/null | grep '^{'
  done
done
