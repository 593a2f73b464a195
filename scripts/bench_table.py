#!/usr/bin/env python3
"""The bench's one table, from the results scripts/bench.sh left in its output directory.

usage: bench_table.py OUT_DIR ROWS CSV_ROWS REPEAT COLD_RUNS MARKDOWN_FILE

Prints the table (Markdown) with the machine it ran on and writes the same to MARKDOWN_FILE.
Exits non-zero when a result is wrong: engines disagree on a file's total, the whole check
read another row count or did not complete, or a requested part left no result.
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys

out, rows, csv_rows, repeat, cold_runs, target_file = sys.argv[1:7]
rows, csv_rows = int(rows), int(csv_rows)


def lines(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, "
            f"{mem_kib / 1024 / 1024:.1f} GiB memory, {platform.system()} {platform.release()}; "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
            f"commit {commit}{' (with local changes)' if dirty else ''}")


table = []  # (part, case, ours, yardstick, ratio, target, verdict)
wrong = []


def verdict(ok):
    return "" if ok is None else ("met" if ok else "**missed**")


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def secs(seconds):
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.0f} ms"


def mib(kib):
    return f"{kib / 1024:.0f} MiB"


# Cold start.
cold = lines("coldstart.jsonl")
python = next((c for c in cold if c["runtime"] != "rust"), None)
for c in (c for c in cold if c["runtime"] == "rust"):
    yard = python if python and c["function"] == python["function"] else None
    table.append(("cold start", f"{c['function']}: spawn to first poll (median of {c['runs']})",
                  ms(c["first_poll_s"]),
                  f"{ms(yard['first_poll_s'])} ({yard['runtime']})" if yard else "",
                  f"{c['first_poll_s'] / yard['first_poll_s']:.3f}" if yard else "",
                  "≤ 8 ms", verdict(c["first_poll_s"] <= 0.008)))
    if c["first_answer_s"] is not None:
        table.append(("cold start", f"{c['function']}: spawn to first answer, configuration "
                      "read from S3 (median)", ms(c["first_answer_s"]),
                      f"{ms(yard['first_answer_s'])}" if yard else "",
                      f"{c['first_answer_s'] / yard['first_answer_s']:.3f}" if yard else "",
                      "≤ 15 ms", verdict(c["first_answer_s"] <= 0.015)))
        invoke = c["first_answer_s"] - c["first_poll_s"]
        table.append(("per invocation", f"{c['function']}: first invocation, event to answer "
                      "(median)", ms(invoke),
                      ms(yard["first_answer_s"] - yard["first_poll_s"]) if yard else "",
                      f"{invoke / (yard['first_answer_s'] - yard['first_poll_s']):.2f}" if yard else "",
                      "", ""))
        table.append(("per invocation", f"{c['function']}: AWS requests of that invocation "
                      f"({', '.join(c['call_list'])})", str(c["calls"]),
                      str(yard["calls"]) if yard else "",
                      f"{c['calls'] / max(yard['calls'], 1):.2f}" if yard else "", "", ""))

# The whole cost check in the Lambda binary.
for fmt in ("parquet", "csv.gz"):
    mine = [r for r in lines("lambda.jsonl") if r["format"] == fmt]
    if not mine:
        continue
    best = min(mine, key=lambda r: r["invoke_s"])
    peak = max(r["rss_kib"] for r in mine)
    if best["rows"] != rows or not best["complete"]:
        wrong.append(f"whole check {fmt}: read {best['rows']} rows of {rows}, complete "
                     f"{best['complete']}")
    table.append(("per invocation", f"cost-check, whole check on moto, synthetic {fmt} "
                  f"({rows:,} rows, 5 dimensions, budgets, anomalies, reports): invocation",
                  secs(best["invoke_s"]), "", "", "", ""))
    table.append(("per invocation", f"cost-check, same: peak RSS against a 512 MB Lambda",
                  mib(peak), "512 MB", f"{peak * 1024 / 512e6:.2f}", "≤ 1.0",
                  verdict(peak * 1024 <= 512e6)))

# Zips.
for z in lines("zips.jsonl"):
    table.append(("zip", f"{z['function']} bootstrap.zip (release)", f"{z['bytes'] / 1e6:.2f} MB",
                  "", "", "≤ 4 MB", verdict(z["bytes"] <= 4e6)))

# The engines.
engines = lines("engines.jsonl")
flag_path = os.path.join(out, "costbench-threads")
threads_flag = os.path.exists(flag_path) and open(flag_path).read().strip() == "yes"
order = []
for r in engines:
    key = (r["shape"], r["format"])
    if key not in order:
        order.append(key)
for shape, fmt in order:
    runs = [r for r in engines if r["shape"] == shape and r["format"] == fmt]
    n = runs[0]["out"].get("rows")
    label = f"{shape} {'Parquet' if fmt == 'parquet' else 'CSV.gz'} ({n:,} rows)"
    totals = {(r["engine"], r["threads"]): r["out"]["total"] for r in runs}
    values = list(totals.values())
    agree = max(values) - min(values) <= 1e-9 * max(1.0, abs(values[0]))
    if not agree:
        wrong.append(f"{label}: totals differ: {totals}")
    for threads in sorted({r["threads"] for r in runs}):
        ours = next((r for r in runs if r["engine"] == "ours" and r["threads"] == threads), None)
        duck = next((r for r in runs if r["engine"] == "duckdb" and r["threads"] == threads), None)
        if not ours or not duck:
            continue
        honoured = ours["out"]["threads"] == threads if "threads" in ours["out"] else (
            threads == 1 or threads_flag)
        tlabel = f"{threads} thread{'s' if threads > 1 else ''}"
        if not honoured:
            tlabel += " (ours ran 1: no --threads in this build)"
        whole = ours["wall"] / duck["wall"]
        inner = duck["out"]["seconds"] / ours["out"]["seconds"]
        rss = ours["rss_kib"] / duck["rss_kib"]
        if fmt == "parquet":
            table.append(("cost engine", f"{label}, {tlabel}: whole process (ours/DuckDB)",
                          secs(ours["wall"]), f"{secs(duck['wall'])} (python + DuckDB)",
                          f"{whole:.2f}", "≤ 0.5", verdict(whole <= 0.5)))
            table.append(("cost engine", f"{label}, {tlabel}: in-process speed (DuckDB's query "
                          "time / ours)", secs(ours["out"]["seconds"]),
                          secs(duck["out"]["seconds"]), f"{inner:.2f}", "≥ 1.0",
                          verdict(inner >= 1.0)))
        else:
            speed = duck["wall"] / ours["wall"]
            table.append(("cost engine", f"{label}, {tlabel}: speed, whole process (DuckDB/ours)",
                          secs(ours["wall"]), f"{secs(duck['wall'])} (python + DuckDB)",
                          f"{speed:.2f}", "≥ 1.5", verdict(speed >= 1.5)))
            table.append(("cost engine", f"{label}, {tlabel}: in-process speed (DuckDB/ours)",
                          secs(ours["out"]["seconds"]), secs(duck["out"]["seconds"]),
                          f"{inner:.2f}", "", ""))
        table.append(("cost engine", f"{label}, {tlabel}: peak RSS (ours/DuckDB)",
                      mib(ours["rss_kib"]), mib(duck["rss_kib"]), f"{rss:.2f}", "≤ 0.25",
                      verdict(rss <= 0.25)))
    table.append(("cost engine", f"{label}: totals, every engine and thread count",
                  f"{totals[('ours', min(t for e, t in totals if e == 'ours'))]:.6f}",
                  f"{totals[('duckdb', min(t for e, t in totals if e == 'duckdb'))]:.6f}", "",
                  "agree", "met" if agree else "**DIFFER**"))

# Backup against aws s3 sync (parsed from backup-bench's own table).
backup_text = open(os.path.join(out, "backup.txt")).read() if os.path.exists(
    os.path.join(out, "backup.txt")) else ""
ours_b = re.search(r"^\| backup \(this suite[^|]*\| (\d+) \| ([\d.]+) s", backup_text, re.M)
theirs_b = re.search(r"^\| aws s3 sync \| (\d+) \| ([\d.]+) s", backup_text, re.M)
head_b = re.search(r"^Incremental backup of (.*)$", backup_text, re.M)
if ours_b and theirs_b:
    oq, ot = int(ours_b.group(1)), float(ours_b.group(2))
    tq, tt = int(theirs_b.group(1)), float(theirs_b.group(2))
    what = head_b.group(1) if head_b else "incremental backup"
    table.append(("backup", f"incremental backup, {what}: requests", str(oq),
                  f"{tq} (aws s3 sync)", f"{oq / max(tq, 1):.2f}", "≤ 1.0", verdict(oq <= tq)))
    table.append(("backup", "same: wall time", secs(ot), f"{secs(tt)} (aws s3 sync)",
                  f"{ot / tt:.2f}", "≤ 0.5", verdict(ot / tt <= 0.5)))

# Every requested part must have left results.
parts_path = os.path.join(out, "parts")
parts = open(parts_path).read().split() if os.path.exists(parts_path) else []
results = {"engines": engines, "coldstart": cold, "zips": lines("zips.jsonl"),
           "check": lines("lambda.jsonl"), "backup": ours_b and theirs_b}
for part in parts:
    if not results.get(part):
        wrong.append(f"{part}: the part left no result (see the output above)")

header = ["part", "measure", "ours", "yardstick", "ratio", "target", ""]
md = ["# Benchmarks", "",
      f"Measured by `make bench` (scripts/bench.sh) on: {machine()}.", "",
      f"Engines: {rows:,} rows per Parquet file, {csv_rows:,} per realistic CSV.gz (the synthetic "
      f"CSV.gz has {rows:,}), best of {repeat} runs; cold starts: medians of {cold_runs}. "
      "Ratios are ours / yardstick unless the measure says otherwise.", "",
      "| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
for row in table:
    md.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
md += ["",
       "Shapes: `synthetic` is the project's own generator (`costbench generate`, CUR 2.0, 13 "
       "columns). The others come from `scripts/bench_shapes.py`, an independent generator "
       "(pyarrow): `cur2-wide` is a CUR 2.0 Data Export with its full column set (129 columns, "
       "most unread and many mostly null, map columns, ~150 Zipf-distributed service codes, "
       "high-cardinality resource ids, hours in no order, 1,000,000-row groups, snappy, "
       "plain-encoded doubles, dictionary-encoded strings); `cur2-wide-dict` is the same rows "
       "with every column dictionary-encoded; `focus12` is FOCUS 1.2 from AWS, Microsoft, "
       "Google Cloud and Oracle (61 columns, Tags as JSON text, 131,072-row groups, zstd). "
       "Their CSV.gz files write timestamps as the exports do (`2024-09-01T00:00:00.000Z`, "
       "`2024-09-18 22:00:00`).", "",
       "Whole process: wall time of each engine's process under `/usr/bin/time` (DuckDB's "
       "includes starting Python and importing duckdb); in-process: the time measured inside "
       "(DuckDB's: the query alone). Cold start: from spawning the release binary (what the "
       "zip holds) against a loopback Lambda Runtime API to its first `GET "
       "/runtime/invocation/next`, and to its first response; the yardstick is a Python "
       "handler written for the bench creating the same boto3 clients (S3, Route 53, ECS, "
       "Secrets Manager, KMS, Lambda) and reading the same configuration object. The machine is "
       "shared with other work; figures vary between runs."]
if wrong:
    md += ["", "Wrong results:", ""] + [f"- {w}" for w in wrong]
text = "\n".join(md) + "\n"
print(text)
with open(target_file, "w") as f:
    f.write(text)
sys.exit(1 if wrong else 0)
