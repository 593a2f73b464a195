#!/usr/bin/env python3
"""DuckDB's side of the cost engine bench: the day x service sum of one export file.

usage: bench_duckdb.py parquet|csv cur|focus FILE THREADS

CUR 2.0: day of line_item_usage_start_date x product_servicecode, sum(line_item_unblended_cost);
FOCUS: day of ChargePeriodStart x ServiceName, sum(BilledCost). The query is wrapped to hand
back only the group count and the total (so no result conversion is timed). Prints one JSON
line like costbench's: cells, total, and the seconds of the query alone (without starting
Python and importing duckdb).
"""
import json
import sys
import time

import duckdb

kind, fmt, path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
source = f"read_parquet('{path}')" if kind == "parquet" else f"read_csv('{path}')"
start, service, cost = {
    "cur": ("line_item_usage_start_date", "product_servicecode", "line_item_unblended_cost"),
    "focus": ("ChargePeriodStart", "ServiceName", "BilledCost"),
}[fmt]
con = duckdb.connect()
con.execute(f"SET threads={threads}")
# Timestamps with a zone (CSV's ...Z, FOCUS Parquet's UTC instants): cut days in UTC, as the
# exports mean.
con.execute("SET TimeZone='UTC'")
query = (f"SELECT date_trunc('day', {start}) d, {service} s, sum({cost}) c "
         f"FROM {source} GROUP BY 1,2")
started = time.perf_counter()
cells, total = con.execute(f"SELECT count(*), sum(c) FROM ({query})").fetchone()
seconds = time.perf_counter() - started
print(json.dumps({"cells": cells, "total": total, "seconds": seconds, "threads": threads}))
