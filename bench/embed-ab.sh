#!/usr/bin/env bash
# A/B of `dino4j embed` between two builds, alternated, on the same inputs: wall seconds per run, and whether both
# wrote the same bytes (shards, manifest, run.json). Random ViT-S/14 weights: nothing to download.
# Usage: bench/embed-ab.sh A.jar B.jar [ROUNDS] [COPIES]   e.g. a jar built from main and dino4j-cli/target/dino4j.jar
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
a="$1" b="$2" rounds="${3:-2}" copies="${4:-8}"
java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in/a" "$work/in/b"
for c in $(seq 1 "$copies"); do # every fixture format and size, plus a broken file per class
  for f in "$here"/fixtures/extra/images/*.{jpg,png,webp,bmp,gif}; do cp "$f" "$work/in/$([ $((c % 2)) = 0 ] && echo a || echo b)/$c-$(basename "$f")"; done
done
echo "not an image" > "$work/in/a/broken.jpg"
run() { # JAR OUT
  rm -rf "$2"; local t0=$(date +%s.%N)
  "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar "$1" embed "$work/in" --output "$2" \
    --model dinov2_vits14 --random-weights 1 --resolution 224 --patch-mean --registers --format safetensors,npy \
    --batch-size 8 --shard-size 16 >/dev/null 2>&1 || true
  echo "$(date +%s.%N) - $t0" | bc
}
echo "# $(date -u +%FT%TZ) $(ls "$work"/in/*/* | wc -l) inputs, $(nproc) cores"
for r in $(seq 1 "$rounds"); do
  ta=$(run "$a" "$work/out-a"); tb=$(run "$b" "$work/out-b")
  echo "round $r: A $ta s, B $tb s"
done
# .safetensors headers of builds before 2026-12-07 list their metadata in Map.of's per-run order: the same tensors are
# compared through the .npy files, which hold the same rows
if diff -r -x '*.safetensors' "$work/out-a" "$work/out-b" >/dev/null; then echo "outputs: identical ($(ls "$work/out-a" | grep -vc safetensors) files)"
else echo "outputs: DIFFER"; diff -rq -x '*.safetensors' "$work/out-a" "$work/out-b" | head; exit 1; fi
