#!/usr/bin/env bash
# dino4j serve under load, beside `dino4j bench` at batch 8 in the same minutes, taking turns A B A B ... (whole
# processes: a harness that keeps both loaded slows one of them). A: a fresh `dino4j serve` (random ViT-S/14 weights:
# nothing to download; the same shapes and work as dinov2_vits14), then org.dino4j.serve.LoadClient with 16 concurrent
# clients posting single photos to /api/embed on the loopback address for SECONDS (after a 10 s warm-up load that is
# not counted). B: `dino4j bench --model dinov2_vits14 --batch 8` (forwards of pixels already in memory: no decoding).
# C: `dino4j embed` of the same photos at batch 8 (decoding and resizing them as the server must; its own images/s
# line), the fair yardstick for what dynamic batching costs. Each round prints images/s of all three and the
# ratios; quote the medians.
# Usage: bench/serve-load.sh [ROUNDS] [SECONDS] PHOTO|FOLDER...
#   env: CLIENTS (16), MAX_BATCH (8), MAX_WAIT_MS (5), PORT (18080), SERVE_ARGS (more serve flags)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}" seconds="${2:-60}"; shift 2 || true
[ $# -gt 0 ] || set -- /usr/share/backgrounds/mate/nature
clients="${CLIENTS:-16}" port="${PORT:-18080}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
"$here/dino4j" --version >/dev/null # builds the jar if the sources are newer
jar="$here/dino4j-cli/target/dino4j.jar"
work="$(mktemp -d)"; trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
echo "$(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(grep -o 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "photos: $*; $clients clients; serve --max-batch ${MAX_BATCH:-8} --max-wait-ms ${MAX_WAIT_MS:-5}"
# C's input: the photos over and over (about 320 images), as a list file
find "$@" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort > "$work/photos.txt"
awk '{a[NR]=$0} END{for(i=0;i<320;i++) print a[i%NR+1]}' "$work/photos.txt" > "$work/list.txt"
load() { "$JAVA_HOME/bin/java" -cp "$jar" org.dino4j.serve.LoadClient --url "http://127.0.0.1:$port/api/embed" --clients "$clients" \
  --count 1000000 --seconds "$1" "${@:2}"; }
for r in $(seq 1 "$rounds"); do
  # shellcheck disable=SC2086
  "$here/dino4j" serve --model dinov2_vits14 --random-weights 1 --port "$port" --max-batch "${MAX_BATCH:-8}" \
    --max-wait-ms "${MAX_WAIT_MS:-5}" ${SERVE_ARGS:-} > "$work/serve.log" 2>&1 & echo $! > "$work/pid"
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  load 10 "$@" > /dev/null # warm-up: JIT, the first batches
  a=$(load "$seconds" "$@" | tail -1)
  rss=$(ps -o rss= -p "$(cat "$work/pid")" | xargs)
  { curl -s "http://127.0.0.1:$port/metrics" | grep -E '^dino4j_batch_size_(sum|count) ' | tr '\n' ' '; } > "$work/batch" || true
  kill "$(cat "$work/pid")"; wait "$(cat "$work/pid")" 2>/dev/null || true
  b=$("$here/dino4j" bench --model dinov2_vits14 --batch 8 --no-gemm --json --iters 10 | grep -o '"images_per_s":[0-9.]*' | head -1 | cut -d: -f2)
  rm -rf "$work/emb"; "$here/dino4j" embed --model dinov2_vits14 --random-weights 1 --batch-size 8 "$work/list.txt" --output "$work/emb" \
    > /dev/null 2> "$work/embed.log" || true
  c=$(grep -o '[0-9.]* images/s' "$work/embed.log" | tail -1 | cut -d' ' -f1)
  ai=$(echo "$a" | grep -o '([0-9.]* images/s' | tr -d '(' | cut -d' ' -f1)
  mean_batch=$(awk '{for(i=1;i<=NF;i++){if($i ~ /_sum/)s=$(i+1); if($i ~ /_count/)c=$(i+1)}} END{if(c>0) printf "%.2f", s/c}' "$work/batch")
  printf 'round %d: serve %s img/s (mean batch %s, server RSS %d MB) | bench b8 %s img/s | embed b8 %s img/s | serve/bench %.3f, serve/embed %.3f\n  %s\n' \
    "$r" "$ai" "$mean_batch" $((rss / 1024)) "$b" "$c" "$(echo "$ai / $b" | bc -l)" "$(echo "$ai / $c" | bc -l)" "$a"
done
