#!/usr/bin/env bash
# Kill the rehearsal (SIGKILL, as a lost driver) in each of the given stages in turn, rerunning after each kill, then
# run it to the end: every stage that had finished must be skipped. Usage:
#   tools/rehearsal/kill-rerun.sh ROWS OUT_DIR "STAGE[:SECONDS] ..." [Rehearsal options]
# e.g. kill-rerun.sh 1000000 /tmp/r1m "knn-pool:30 hierarchical:20" --dim 288 --cells 1024
# Logs: OUT_DIR/run-1.log (killed in the first stage), run-2.log, ..., the last one complete.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rows="$1" out="$2" kills="$3"
shift 3
mkdir -p "$out"
n=0
for k in $kills; do
  stage="${k%%:*}" secs="${k#*:}"
  [ "$secs" = "$k" ] && secs=20
  n=$((n + 1))
  log="$out/run-$n.log"
  "$here/rehearsal.sh" "$rows" "$out" 512m "$@" > "$log" 2>&1 &
  pid=$!
  until grep -aq "\] $stage \.\.\." "$log" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { echo "run $n ended before stage $stage" >&2; exit 1; }
    sleep 1
  done
  sleep "$secs"
  pkill -9 -f "org.dino4j.spark.Rehearsal --rows $rows --out $out" || true
  wait $pid 2>/dev/null || true
  echo "run $n: killed in $stage after $secs s; its stage lines:"
  grep -aE '^\[ *[0-9.]+ s\] [a-z0-9-]+(: [0-9.]+ s|: done before, skipped| \.\.\.)$|^pool:' "$log" | sed 's/^/  /'
done
n=$((n + 1))
"$here/rehearsal.sh" "$rows" "$out" 512m "$@" > "$out/run-$n.log" 2>&1
echo "run $n (to the end):"
grep -aE '^\[ *[0-9.]+ s\] [a-z0-9-]+(: [0-9.]+ s|: done before, skipped)$|^pool:' "$out/run-$n.log" | sed 's/^/  /'
