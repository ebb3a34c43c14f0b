#!/usr/bin/env bash
# dino4j against ONNX Runtime as whole processes in turn: `dino4j bench` (its own warm-up), then
# ../shared/bench/vit_infer_peers.py (its own), PAIRS times, and the median of the paired ratios of the images/s each
# prints. The other way of comparing, forward by forward with both loaded, is bench/interleaved.py.
# Usage: bench/alternate.sh MODEL BATCH [SIZE] [PAIRS] [ITERS]   e.g. bench/alternate.sh vits14 8 224 5
# Peers from ../shared/bench/setup_peers.sh (/opt/dino4j-peers). Prints one line per pair, then the median.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="$1" batch="$2" size="${3:-224}" pairs="${4:-5}" iters="${5:-5}"
peers="${PEERS:-/opt/dino4j-peers}" threads="${THREADS:-$(nproc)}"
script="${PEER_SCRIPT:-$here/../shared/bench/vit_infer_peers.py}"
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads, $model batch $batch ${size}px"
ratios=()
for p in $(seq 1 "$pairs"); do
  d=$("$here/dino4j" bench --model "dinov2_$model" --batch "$batch" --size "$size" --threads "$threads" --no-gemm --json \
      --iters "$iters" --warmup 3 | grep '"kind":"inference"' | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/')
  o=$(PYTHONPATH="$peers" python3 "$script" --model "$model" --batch "$batch" --size "$size" --threads "$threads" \
      --engines onnxruntime --reps "$iters" 2>/dev/null | grep '^{' | sed 's/.*"images_per_s": \([0-9.]*\).*/\1/')
  [ -n "$d" ] || { echo "pair $p: dino4j bench printed no figure (run it by hand to see why)" >&2; exit 1; }
  [ -n "$o" ] || { echo "pair $p: the peer printed no figure (run $script by hand to see why)" >&2; exit 1; }
  r=$(python3 -c "print(f'{$d / $o:.3f}')")
  ratios+=("$r")
  echo "pair $p: dino4j $d img/s, onnxruntime $o img/s, ratio $r"
done
python3 -c "import statistics,sys; r=sorted(map(float,sys.argv[1:])); print(f'median ratio {statistics.median(r):.3f} (min {r[0]:.3f}, max {r[-1]:.3f}, {len(r)} pairs)')" "${ratios[@]}"
