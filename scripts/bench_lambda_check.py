#!/usr/bin/env python3
"""One cost-check invocation of the release binary over a CUR 2.0 export on the emulator.

usage: bench_lambda_check.py ENDPOINT BOOTSTRAP FORMAT FILE REPEAT  (FORMAT: parquet or csv.gz)

Serves a minimal Lambda Runtime API (next event, response, error) on a loopback port, starts
the binary against it, and once the response is in reads the process's peak RSS (VmHWM) from
/proc before stopping it. Prints one JSON line per run.
"""
import json, os, subprocess, sys, time

import boto3
from botocore.config import Config

from bench_runtime import OneEvent

endpoint, bootstrap, fmt, path, repeat = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench",
                  config=Config(s3={"addressing_style": "path"}))
state, exports = "bench-state", "bench-exports"
for bucket in (state, exports):
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
export = "parquet" if fmt == "parquet" else "csvgz"
ext = ".snappy.parquet" if fmt == "parquet" else ".csv.gz"
key = f"cur/{export}/data/BILLING_PERIOD=2024-09/{export}-00001{ext}"
s3.upload_file(path, exports, key)
manifest = {"executionId": "bench", "dataFiles": [f"s3://{exports}/{key}"],
            "billingPeriod": {"start": "2024-09-01T00:00:00.000Z", "end": "2024-10-01T00:00:00.000Z"}}
s3.put_object(Bucket=exports, Key=f"cur/{export}/metadata/BILLING_PERIOD=2024-09/{export}-Manifest.json",
              Body=json.dumps(manifest).encode())
config = f"""version: 1
cost:
  source: {{ kind: cur2, bucket: {exports}, prefix: cur, export_name: {export} }}
  metric: unblended_cost
  dimensions: [provider, sub_account, service, region, "tag:team"]
  history_days: 42
  anomalies: {{ by: [service], min_impact: 250 }}
  budgets:
    - name: total
      monthly: 30000
      thresholds:
        - {{ basis: actual, percent: 100 }}
        - {{ basis: forecast, percent: 100 }}
"""
s3.put_object(Bucket=state, Key="config/suite.yaml", Body=config.encode())
event = json.dumps({"as_of": "2024-09-30", "dry_run": True}).encode()


def invoke():
    runtime = OneEvent(event, "cost-check", 900)
    env = dict(os.environ,
               AWS_LAMBDA_RUNTIME_API=runtime.address,
               AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_LAMBDA_FUNCTION_NAME="cost-check", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512", AWS_LAMBDA_LOG_LEVEL="WARN",
               STATE_BUCKET=state)
    started = time.perf_counter()
    log = open(os.path.join(os.path.dirname(path), "lambda.log"), "ab")
    proc = subprocess.Popen([bootstrap], env=env, stdout=log, stderr=log)
    if not runtime.answered.wait(900):
        proc.kill()
        sys.exit("bench_lambda_check: no response within 900 s (see lambda.log)")
    with open(f"/proc/{proc.pid}/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    proc.kill()
    proc.wait()
    runtime.close()
    if not runtime.ok:
        sys.exit(f"bench_lambda_check: the invocation failed: {runtime.body[:2000]}")
    response = json.loads(runtime.body)
    report = json.loads(s3.get_object(Bucket=state, Key=response["report_json"])["Body"].read())
    return {"format": fmt, "invoke_s": runtime.answered_at - runtime.first_poll,
            "process_s": runtime.answered_at - started, "rss_kib": hwm,
            "rows": report["source"]["rows"], "complete": response["complete"],
            "budgets_breached": response["budgets_breached"], "anomalies": len(response["anomalies"])}


for _ in range(int(repeat)):
    print(json.dumps(invoke()), flush=True)
