#!/usr/bin/env bash
# Whole-process A/B of one `depth` or `segment` call: dino4j (A) against Meta's official code under PyTorch (B,
# bench/heads_peer.py), taking turns A B A B ... This VM's speed drifts from minute to minute, so each round's ratio
# compares two runs seconds apart, and the median of those ratios is the figure to quote. Every run is a fresh process:
# start-up, building the model (random weights of the released shapes: nothing to download), then one photo from
# the file to the output. B's own in-process time of that call (heads_peer.py's measure=call) is printed beside it.
# Usage: bench/heads-ab.sh depth|segment [ROUNDS] [PHOTO]
#   env: THREADS (2), WARMUP (1 run of each, not counted), PEERS (/opt/dino4j-peers), PEER_ARGS (more heads_peer.py
#   flags, e.g. "--depth-head linear4" or "--seg-mode slide --seg-rescale input"; keep them the same as A's),
#   DINO4J_CMD (replaces A's command line below; run by sh with $PHOTO, $OUT and $THREADS exported)
# The default photo is in Debian's mate-backgrounds (apt-get install mate-backgrounds): 1920x1280 JPEG, GPL-2+.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
task="${1:-}" rounds="${2:-5}" photo="${3:-/usr/share/backgrounds/mate/nature/Storm.jpg}"
case "$task" in depth|segment) ;; *) echo "usage: bench/heads-ab.sh depth|segment [ROUNDS] [PHOTO]" >&2; exit 2 ;; esac
[ -f "$photo" ] || { echo "heads-ab: $photo: no such file (apt-get install mate-backgrounds has the default)" >&2; exit 2; }
threads="${THREADS:-2}" warmup="${WARMUP:-1}" peers="${PEERS:-/opt/dino4j-peers}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ==== A: dino4j's command line ==================================================================================
# Matched to B: ViT-S/14; depth: the DPT head at a 518 px shorter side, the map resized to the photo; segmentation: the
# ADE20K linear head as its released config runs it (shorter side 512, 512-px windows every 341 px: B gets
# --seg-mode slide below), the label map at the photo's own size.
dino4j_cmd() { # OUT
  if [ -n "${DINO4J_CMD:-}" ]; then PHOTO="$photo" OUT="$1" THREADS="$threads" sh -c "$DINO4J_CMD"; return; fi
  case "$task" in
    depth) "$here/dino4j" depth "$photo" --model dinov2_vits14 --random-weights 1 --random-head 1 --head dpt \
             --threads "$threads" --output "$1" ;;
    segment) "$here/dino4j" segment "$photo" --model dinov2_vits14 --random-weights 1 --random-head 1 --head linear \
             --threads "$threads" --output "$1" ;;
  esac
}
# ================================================================================================================
# shellcheck disable=SC2086 # PEER_ARGS is a list of flags
peer_cmd() { PYTHONPATH="$peers" python3 "$here/bench/heads_peer.py" --task "$task" --photo "$photo" \
  --threads "$threads" --warmup 0 --repeats 1 ${PEER_ARGS:-$( [ "$task" = segment ] && echo "--seg-mode slide" )}; }

timed() { # NAME COMMAND...: wall seconds on stdout, the command's output in $work/NAME.log; a failure stops the script
  local name="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  local rc=0
  "$@" >"$work/$name.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    echo "heads-ab: $([ "$name" = a ] && echo "A (dino4j)" || echo "B (heads_peer.py)") exited with $rc; its last lines:" >&2
    tail -5 "$work/$name.log" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $threads threads;" \
  "task $task; photo $photo; A = dino4j, B = PyTorch + official dinov2 code; $rounds rounds after $warmup warm-up"
for _ in $(seq 1 "$warmup"); do timed a dino4j_cmd "$work/out" >/dev/null; timed b peer_cmd >/dev/null; done
: >"$work/ratios"; : >"$work/a"; : >"$work/b"
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/out"
  ta=$(timed a dino4j_cmd "$work/out")
  tb=$(timed b peer_cmd)
  call=$(sed -n 's/.*measure=call .*ms_p50=\([0-9.]*\).*/\1/p' "$work/b.log")
  ratio=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.3f", a / b }')
  echo "$ratio" >>"$work/ratios"; echo "$ta" >>"$work/a"; echo "$tb" >>"$work/b"
  echo "round $r: A ${ta} s, B ${tb} s (B's call alone ${call} ms), A/B $ratio"
done
grep '^peer=' "$work/b.log" | sed 's/^/# B, last round: /'
echo "median: A $(median <"$work/a") s, B $(median <"$work/b") s; A/B $(median <"$work/ratios")" \
  "(min $(sort -g "$work/ratios" | head -1), max $(sort -g "$work/ratios" | tail -1)); below 1: dino4j is faster"
