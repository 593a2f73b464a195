#!/usr/bin/env python3
"""Cold start of the release Lambda binaries against a Python 3.11 boto3 handler, for the bench.

usage: bench_coldstart.py ENDPOINT CONFIG RUNS NAME=BOOTSTRAP...

ENDPOINT is the emulator (moto); CONFIG the suite configuration uploaded as the state bucket's
config object; each NAME=BOOTSTRAP a release binary (what the zip holds). For each binary, RUNS
times: serves a minimal Lambda Runtime API on a loopback port, starts the binary against it and
measures, from the spawn, the time to its first `GET /runtime/invocation/next` (first poll) and
to its first response or error POST (first answer). alarm-rollback is handed an alarm event no
service is guarded by (events/alarm-eventbridge-unmapped.json), so it reads the configuration
from S3 and answers; the other functions are measured to their first poll only (their first
answer needs state of their own).

The yardstick is a Python handler written for the bench only (PY_HANDLER below), run by the
same interpreter with a minimal runtime loop (urllib): at start-up it imports boto3 and creates
the clients the Rust functions create (S3, Route 53, ECS, Secrets Manager, KMS, Lambda); the
invocation reads the same configuration object, parses its YAML and looks the alarm up, as
alarm-rollback does for an unmapped alarm. It is measured the same way.

Every AWS request of a run goes through a counting proxy in front of the emulator
(AWS_ENDPOINT_URL points at it): the calls per invocation are reported.

Prints one JSON line per function (and one for the Python yardstick) with medians.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config

from bench_runtime import OneEvent

PY_HANDLER = r'''
import json, os, sys, time, urllib.request, fnmatch
import boto3, yaml

# Start-up, as a Python Lambda does it outside the handler: the clients alarm-rollback builds.
s3 = boto3.client("s3")
route53 = boto3.client("route53")
ecs = boto3.client("ecs")
secrets = boto3.client("secretsmanager")
kms = boto3.client("kms")
lam = boto3.client("lambda")
bucket = os.environ["STATE_BUCKET"]


def handler(event):
    config = yaml.safe_load(s3.get_object(Bucket=bucket, Key="config/suite.yaml")["Body"].read())
    name = event["detail"]["alarmName"]
    for route in config.get("alarms", []):
        if fnmatch.fnmatchcase(name, route["alarm"]):
            return {"alarm": name, "service": route.get("service"), "action": "rollback"}
    return {"alarm": name, "action": "skipped", "reason": "no service is guarded by this alarm"}


api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps(handler(event)).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body,
                                                  method="POST")).read()
'''

endpoint, config_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
binaries = [arg.split("=", 1) for arg in sys.argv[4:]]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
state = "bench-coldstart-state"
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench",
                  config=Config(s3={"addressing_style": "path"}))
try:
    s3.create_bucket(Bucket=state)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
with open(config_path, "rb") as f:
    s3.put_object(Bucket=state, Key="config/suite.yaml", Body=f.read())
with open(os.path.join(root, "events", "alarm-eventbridge-unmapped.json"), "rb") as f:
    alarm_event = f.read()

# The counting proxy: forwards every request to the emulator, counts it by operation.
upstream = urllib.parse.urlsplit(endpoint)
calls = []
calls_lock = threading.Lock()


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = self.headers.get("Content-Length")
        if length is not None:
            body = self.rfile.read(int(length))
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = b""
        target = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
        with calls_lock:
            calls.append(target)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("transfer-encoding", "content-length", "connection")}
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward


proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
proxy.daemon_threads = True
threading.Thread(target=proxy.serve_forever, daemon=True).start()
proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"


def run_once(name, argv, event):
    """One cold start: seconds to the first poll and to the first answer (None if not asked)."""
    runtime = OneEvent(event, name, 60)
    env = dict(os.environ,
               AWS_LAMBDA_RUNTIME_API=runtime.address,
               AWS_ENDPOINT_URL=proxy_url, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_LAMBDA_FUNCTION_NAME=name, AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_LOG_LEVEL="WARN",
               STATE_BUCKET=state)
    env.pop("AWS_PROFILE", None)
    with calls_lock:
        calls.clear()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    waited = (runtime.answered if event is not None else runtime.polled).wait(60)
    proc.kill()
    _, err = proc.communicate()
    runtime.close()
    if not waited:
        sys.exit(f"bench_coldstart: {name}: no {'answer' if event else 'poll'} within 60 s: "
                 f"{err.decode('utf-8', 'replace')[-2000:]}")
    if event is not None and not runtime.ok:
        sys.exit(f"bench_coldstart: {name}: the invocation failed: {(runtime.body or '')[:2000]}")
    with calls_lock:
        made = list(calls)
    return {"first_poll": runtime.first_poll - started,
            "first_answer": runtime.answered_at - started if event is not None else None,
            "calls": made, "body": runtime.body}


def measure(name, argv, event, runtime):
    samples = [run_once(name, argv, event) for _ in range(runs)]
    poll = statistics.median(s["first_poll"] for s in samples)
    answer = (statistics.median(s["first_answer"] for s in samples) if event is not None else None)
    last = samples[-1]
    return {"function": name, "runtime": runtime, "runs": runs, "first_poll_s": poll,
            "first_answer_s": answer, "calls": len(last["calls"]) if event is not None else None,
            "call_list": last["calls"] if event is not None else None,
            "answer": (last["body"] or "")[:300] if event is not None else None}


for name, path in binaries:
    event = alarm_event if name == "alarm-rollback" else None
    print(json.dumps(measure(name, [path], event, "rust")), flush=True)

handler_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_py_handler_{os.getpid()}.py")
with open(handler_path, "w") as f:
    f.write(PY_HANDLER)
try:
    print(json.dumps(measure("alarm-rollback", [sys.executable, handler_path], alarm_event,
                             f"python {sys.version.split()[0]} boto3")), flush=True)
finally:
    os.unlink(handler_path)
proxy.shutdown()
