#!/usr/bin/env bash
# Kill the rehearsal (SIGKILL, as a lost driver) while it is in a given stage, then rerun it: the stages that had
# finished must be skipped. Usage: tools/rehearsal/kill-rerun.sh ROWS OUT_DIR STAGE [SECONDS_INTO_STAGE] [Rehearsal options]
# e.g. kill-rerun.sh 3000000 /tmp/r3m knn-pool 30. Logs: OUT_DIR/killed.log, OUT_DIR/rerun.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rows="$1" out="$2" stage="$3" secs="${4:-20}"
shift 4 2>/dev/null || shift $#
mkdir -p "$out"
"$here/rehearsal.sh" "$rows" "$out" 512m "$@" > "$out/killed.log" 2>&1 &
pid=$!
until grep -q "\] $stage \.\.\." "$out/killed.log" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "the run ended before stage $stage" >&2; exit 1; }
  sleep 1
done
sleep "$secs"
pkill -9 -f "org.dino4j.spark.Rehearsal --rows $rows --out $out" || true
wait $pid 2>/dev/null || true
echo "killed in $stage after $secs s; stages finished before:"
grep -E '^\[ *[0-9.]+ s\] [a-z0-9-]+: [0-9.]+ s$' "$out/killed.log" || true
"$here/rehearsal.sh" "$rows" "$out" 512m "$@" > "$out/rerun.log" 2>&1
echo "rerun:"
grep -E '^\[ *[0-9.]+ s\] [a-z0-9-]+(: [0-9.]+ s|: done before, skipped)$|^pool:' "$out/rerun.log"
