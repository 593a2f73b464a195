#!/usr/bin/env bash
# The full fault sweep (`make chaos`): every chaos scenario test of the four functions, run
# through the fault-injecting proxy over many seeds, then one table of the outcomes.
#
#   bash scripts/chaos.sh                       # seeds 1-8
#   CHAOS_SEEDS=1-20 bash scripts/chaos.sh      # more seeds
#
# Each scenario prints one line per (function, fault mode, rate, seed):
#   CHAOS function=<f> mode=<errors|drops> rate=<r> seed=<s> invocations=<n> faults=<k> outcome=<word>
# and asserts on the final AWS state itself; a failing assertion fails this script. Not timed:
# the table reports counts, not durations. `make test` runs the same tests on the two default
# seeds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ops-suite/target}
export CHAOS_SEEDS=${CHAOS_SEEDS:-1-8}
mkdir -p .cache
log=.cache/chaos.log
status=0
cargo test -q -p ops-tests --test integration chaos_ -- --nocapture --test-threads=2 >"$log" 2>&1 || status=$?
# The test harness's progress dots may precede a line: take each line from "CHAOS" on.
grep -ho 'CHAOS function=.*' "$log" | awk '
  {
    delete f
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = substr($i, length(kv[1]) + 2) }
    key = f["function"] "|" f["mode"] "|" f["rate"]
    if (!(key in runs)) order[++n] = key
    runs[key]++
    faults[key] += f["faults"]
    if (f["invocations"] + 0 > maxinv[key]) maxinv[key] = f["invocations"] + 0
    suminv[key] += f["invocations"]
    outcomes[key] = outcomes[key] (outcomes[key] == "" ? "" : ", ") f["outcome"]
  }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, "|")
      # Outcome words counted: "promoted x8".
      delete count; list = ""
      m = split(outcomes[k], o, ", ")
      for (j = 1; j <= m; j++) count[o[j]]++
      for (w in count) list = list (list == "" ? "" : ", ") w " ×" count[w]
      printf "| %s | %s | %s %% | %d | %.1f / %d | %d | %s |\n", p[1], p[2], p[3] * 100, runs[k], suminv[k] / runs[k], maxinv[k], faults[k], list
    }
  }' | sort >"$log.table"
echo "| function | fault mode | rate | seeds | invocations (mean / max) | faults injected | outcomes |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
cat "$log.table"
tail -n 3 "$log" | grep -E 'test result' || true
if [ "$status" -ne 0 ]; then
  echo "chaos: some scenario failed; see $log" >&2
fi
exit "$status"
