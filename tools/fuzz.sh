#!/usr/bin/env bash
# Coverage-guided fuzzing of dino4j's readers with Jazzer's libFuzzer driver, outside CI.
#   tools/fuzz.sh TARGET SECONDS [extra libFuzzer/Jazzer flags]   e.g. tools/fuzz.sh Pth 1800
#   tools/fuzz.sh list                                            the targets
#   tools/fuzz.sh TARGET replay                                   every input kept so far, once (after a fix)
# TARGET is a class org.dino4j.fuzz.<TARGET>FuzzTest in dino4j-fuzz/src/test/java. The checked-in corpus
# (seeds and findings, what CI replays) is read, never written; the growing corpus, crash files and the log
# go to dino4j-fuzz/target/fuzz/<TARGET>/. A finding is a crash-*/timeout-*/oom-* file there: reproduce it with
#   tools/fuzz.sh TARGET replay-file FILE
set -euo pipefail
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PATH="$JAVA_HOME/bin:$PATH"
cd "$(dirname "$0")/.."
src=dino4j-fuzz/src/test/java/org/dino4j/fuzz
if [[ ${1:-} == list || $# -lt 2 ]]; then
  ls "$src" | sed -n 's/FuzzTest\.java$//p'
  [[ ${1:-} == list ]] && exit 0
  echo "usage: tools/fuzz.sh TARGET SECONDS|replay|replay-file FILE [flags]" >&2; exit 2
fi
t=$1; what=$2; shift 2
[[ -f $src/${t}FuzzTest.java ]] || { echo "no target $t (tools/fuzz.sh list)" >&2; exit 2; }
method=$(sed -n 's/^ *void \([A-Za-z0-9]*\)(byte\[\] data) {$/\1/p' "$src/${t}FuzzTest.java" | head -1)
inputs=dino4j-fuzz/src/test/resources/org/dino4j/fuzz/${t}FuzzTestInputs/$method
work=dino4j-fuzz/target/fuzz/$t
mkdir -p "$work/corpus"
if [[ ! -f dino4j-fuzz/target/fuzz.cp || -n ${FUZZ_REBUILD:-} ]]; then
  mvn -B -q -o -pl dino4j-fuzz -am install -DskipTests >&2
  mvn -B -q -o -pl dino4j-fuzz dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/fuzz.cp >&2
fi
# a private copy of every jar and class: a build (here or in another checkout sharing ~/.m2) must not change
# the code under a run that is going on
snap=$work/cp-$$
trap 'rm -rf "$snap"' EXIT
mkdir -p "$snap/jars"
cp -r dino4j-fuzz/target/test-classes "$snap/test-classes"
cp=$snap/test-classes
IFS=: read -ra jars < dino4j-fuzz/target/fuzz.cp || true  # no newline at its end
for j in "${jars[@]}"; do
  if [[ $j =~ /org/dino4j/(dino4j-[a-z]+)/ ]]; then # this checkout's classes, not ~/.m2's (shared with other checkouts)
    c=$snap/${BASH_REMATCH[1]}
    cp -r "${BASH_REMATCH[1]}/target/classes" "$c"
  else
    c=$snap/jars/$(basename "$j")
    cp "$j" "$c"
  fi
  cp+=":$c"
done
jvm=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx1g -XX:+UseParallelGC
     -XX:+EnableDynamicAgentLoading -Djava.awt.headless=true)
# Instrumented: dino4j and the parsers it calls, not the arithmetic (kernels, layers, heads, pictures), which only
# slows the inputs that reach the model. -timeout: seconds one input may take (a hang is a finding). -rss_limit_mb
# above the 1 GB heap, so a heap OutOfMemoryError (a size field taken on trust) is reported by the JVM, not by
# libFuzzer's RSS watchdog.
flags=(--target_class=org.dino4j.fuzz.${t}FuzzTest --instrumentation_includes='org.dino4j.**:com.twelvemonkeys.**:org.yaml.**:io.javalin.**:org.eclipse.jetty.**'
       --instrumentation_excludes='org.dino4j.kernels.**:org.dino4j.nn.**:org.dino4j.tensor.**:org.dino4j.heads.**:org.dino4j.viz.**'
       -timeout=${FUZZ_TIMEOUT:-20} -rss_limit_mb=3000 -artifact_prefix="$work/")
case $what in
  replay) java "${jvm[@]}" -cp "$cp" com.code_intelligence.jazzer.Jazzer "${flags[@]}" -runs=0 "$@" "$work/corpus" "$inputs"; exit ;;
  replay-file) java "${jvm[@]}" -cp "$cp" com.code_intelligence.jazzer.Jazzer "${flags[@]}" "$@"; exit ;;
esac
log=$work/run-$(date -u +%Y%m%dT%H%M%S).log
set +e
java "${jvm[@]}" -cp "$cp" com.code_intelligence.jazzer.Jazzer "${flags[@]}" -max_total_time="$what" \
  --keep_going=25 -print_final_stats=1 "$@" "$work/corpus" "$inputs" >"$log" 2>&1
rc=$?
set -e
execs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$log" | tail -1)
cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
findings=$(grep -ac '^== libFuzzer crashing input ==\|^==[0-9]*== ERROR' "$log" || true)
echo "$t: rc $rc, runs/seconds ${execs:-?}, ${cov:-no coverage line}, findings in log: $findings, log $log"
# exit 1 when the run left a finding (crash-*, timeout-*, oom-*) to look at
! ls "$work" | grep -E '^(crash|timeout|oom)-'
