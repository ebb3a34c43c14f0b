#!/usr/bin/env bash
# The Spark curation rehearsed at scale on synthetic vectors, with the driver's heap capped (local[2]: the executors
# share the driver's JVM, so the cap holds for everything). Usage:
#   tools/rehearsal/rehearsal.sh ROWS OUT_DIR [HEAP] [more Rehearsal options, e.g. --cells 4096 --probe 2]
# Build first: mvn -B -q install -DskipTests. Writes OUT_DIR/rehearsal.json (stage times, recall, planted duplicates
# found, heap peak) and OUT_DIR/curation (curated.tsv, report.json, the tables). A rerun skips finished stages.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
rows="${1:?rows}" out="${2:?out dir}" heap="${3:-512m}"
shift 3 2>/dev/null || shift $#
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export SPARK_LOCAL_IP=127.0.0.1
jar="$here/dino4j-spark/target/dino4j-spark.jar" lib="$here/dino4j-spark/target/lib"
[ -f "$jar" ] && [ -d "$lib" ] || { echo "build first: mvn -B -q install -DskipTests (no $jar)" >&2; exit 1; }
mkdir -p "$out/tmp"
cp "$jar" "$out/dino4j-spark.jar" # a rebuild during a long run must not pull classes from under it
jar="$out/dino4j-spark.jar"
opens=""
for p in java.lang java.lang.invoke java.io java.net java.nio java.util java.util.concurrent sun.nio.ch sun.util.calendar; do
  opens="$opens --add-opens=java.base/$p=ALL-UNNAMED"
done
exec "$JAVA_HOME/bin/java" -Xmx"$heap" -XX:+UseParallelGC --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  $opens --sun-misc-unsafe-memory-access=allow -Djava.io.tmpdir="$out/tmp" -Dspark.local.dir="$out/tmp" \
  -cp "$jar:$lib/*" org.dino4j.spark.Rehearsal --rows "$rows" --out "$out" "$@" \
  2> >(grep --line-buffered -v -e '^WARNING: Using incubator modules' -e 'NativeCodeLoader' >&2)
