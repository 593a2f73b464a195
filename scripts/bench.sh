#!/usr/bin/env bash
# Benchmark of the cost read path (ops-costdata) against DuckDB on one thread, on the same
# synthetic CUR 2.0 export as Parquet and as CSV.gz. Not a test: it prints a table.
#
#   bash scripts/bench.sh              # 10,000,000 rows
#   ROWS=1000000 bash scripts/bench.sh
#
# Both engines run the day x service sum of line_item_unblended_cost, each as its own process
# under /usr/bin/time (wall seconds, peak RSS), best of REPEAT runs (default 3). Ours runs twice: through read_file (the file
# loaded into memory first, as the Lambda holds an S3 object) and through read_path (streamed
# from disk). The data is generated once into .cache/bench/ and reused while ROWS is unchanged.
# Targets: Parquet >= 1.0x DuckDB's throughput at <= 1/4 of its peak memory; CSV.gz >= 1.5x.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ops-suite/target}
ROWS=${ROWS:-10000000}
out=.cache/bench
py=.venv/bin/python

# DuckDB into the project's venv, if it is not there yet.
[ -x "$py" ] || python3 -m venv .venv
if ! "$py" -c 'import duckdb' 2>/dev/null; then
  echo "bench: installing duckdb into .venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check duckdb
fi

cargo build --release -q -p ops-costdata --bin costbench
costbench="$CARGO_TARGET_DIR/release/costbench"

mkdir -p "$out"
if [ "$(cat "$out/rows" 2>/dev/null || true)" != "$ROWS" ] ||
  [ ! -f "$out/cur.parquet" ] || [ ! -f "$out/cur.csv.gz" ]; then
  echo "bench: generating $ROWS rows into $out" >&2
  rm -f "$out/rows"
  "$costbench" generate --rows "$ROWS" --out "$out" >&2
  echo "$ROWS" > "$out/rows"
fi

# DuckDB's side: the query of the issue, wrapped to hand back only the group count and the
# total (so no result conversion is timed); prints one JSON line like costbench's.
cat > "$out/duckdb_sum.py" <<'PY'
import json, sys, time
import duckdb

kind, path = sys.argv[1], sys.argv[2]
source = f"read_parquet('{path}')" if kind == "parquet" else f"read_csv('{path}')"
con = duckdb.connect()
con.execute("SET threads=1")
# CSV timestamps end in Z (TIMESTAMP WITH TIME ZONE): cut days in UTC, as the export means.
con.execute("SET TimeZone='UTC'")
query = (
    "SELECT date_trunc('day', line_item_usage_start_date) d, product_servicecode s, "
    f"sum(line_item_unblended_cost) c FROM {source} GROUP BY 1,2"
)
started = time.perf_counter()
cells, total = con.execute(f"SELECT count(*), sum(c) FROM ({query})").fetchone()
seconds = time.perf_counter() - started
print(json.dumps({"cells": cells, "total": total, "seconds": seconds}))
PY

results="$out/results.jsonl"
: > "$results"
# Runs of each measurement: the fastest wall time counts (the machine may be busy with other
# work; the best run is the least disturbed one), with the largest peak RSS seen.
REPEAT=${REPEAT:-3}
# run FORMAT ENGINE COMMAND...: times the command REPEAT times, appends one result line.
run() {
  local format=$1 engine=$2
  shift 2
  local timing json best_wall="" best_json="" max_rss=0 wall rss
  timing=$(mktemp)
  for _ in $(seq "$REPEAT"); do
    json=$(/usr/bin/time -f '%e %M' -o "$timing" "$@")
    read -r wall rss < <(tail -n 1 "$timing")
    if [ -z "$best_wall" ] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
      best_wall=$wall
      best_json=$json
    fi
    [ "$rss" -gt "$max_rss" ] && max_rss=$rss
  done
  rm -f "$timing"
  printf '{"format":"%s","engine":"%s","wall":%s,"rss_kib":%s,"out":%s}\n' \
    "$format" "$engine" "$best_wall" "$max_rss" "$best_json" >> "$results"
}

for format in parquet csv.gz; do
  file="$out/cur.$format"
  kind=${format%%.*}
  echo "bench: $format" >&2
  run "$format" "ours read_file" "$costbench" aggregate "$file"
  run "$format" "ours read_path" "$costbench" aggregate "$file" --stream
  run "$format" "duckdb 1 thread" "$py" "$out/duckdb_sum.py" "$kind" "$file"
done

"$py" - "$results" "$ROWS" <<'PY'
import json, sys

rows = int(sys.argv[2])
results = [json.loads(line) for line in open(sys.argv[1])]
print(f"\n{rows:,} CUR rows, day x service sum; wall time (best run) and peak RSS of each process\n")
head = f"{'format':8} {'engine':16} {'wall s':>7} {'rows/s':>12} {'peak RSS MiB':>13} {'in-process s':>13}  total"
print(head)
print("-" * len(head))
for r in results:
    o = r["out"]
    print(f"{r['format']:8} {r['engine']:16} {r['wall']:7.2f} {rows / r['wall']:12,.0f} "
          f"{r['rss_kib'] / 1024:13.1f} {o['seconds']:13.2f}  {o['total']:.6f}")

print("in-process s: time measured inside the process (DuckDB's: the query alone, without"
      " starting Python and importing duckdb)")
failed = False
print()
for fmt, speed_target in (("parquet", 1.0), ("csv.gz", 1.5)):
    by = {r["engine"]: r for r in results if r["format"] == fmt}
    duck = by["duckdb 1 thread"]
    for engine in ("ours read_file", "ours read_path"):
        ours = by[engine]
        speed = duck["wall"] / ours["wall"]
        inner = duck["out"]["seconds"] / ours["out"]["seconds"]
        memory = ours["rss_kib"] / duck["rss_kib"]
        verdict = "meets" if speed >= speed_target else "misses"
        line = (f"{fmt:8} {engine:15} throughput ours/duckdb {speed:5.2f}x "
                f"(target >= {speed_target}x: {verdict}; in-process {inner:.2f}x), "
                f"memory ours/duckdb {memory:5.2f}")
        if fmt == "parquet":
            line += f" (target <= 0.25: {'meets' if memory <= 0.25 else 'misses'})"
        print(line)
    totals = [r["out"]["total"] for r in by.values()]
    agree = max(totals) - min(totals) <= 1e-9 * max(1.0, abs(totals[0]))
    print(f"{fmt:8} totals {'agree' if agree else 'DIFFER'}: " +
          ", ".join(f"{e} {r['out']['total']:.6f}" for e, r in by.items()))
    failed |= not agree
sys.exit(1 if failed else 0)
PY
