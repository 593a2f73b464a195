#!/usr/bin/env bash
# End-to-end check run by infra-check.sh between `terraform apply` and `destroy`: seeds sample
# services consistent with the config Terraform uploaded, runs alarm-rollback through the real
# Lambda Runtime API (`cargo lambda watch --only-lambda-apis` + `cargo lambda invoke --data-file`)
# against the resources Terraform created, and fails unless the rollback happened exactly once.
# Needs: AWS_ENDPOINT_URL, STATE_BUCKET (from `terraform output`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${AWS_ENDPOINT_URL:?}" "${STATE_BUCKET:?}"
export PATH="$root/.venv/bin:$PATH"
# The debug build `make demo` and `cargo test --workspace` share (tests/src/runtime_api.rs,
# DEV_BUILD): after either, nothing compiles here.
cargo build -q --workspace --examples --bin ops-demo --bin deploy-hook --bin alarm-rollback --bin backup
"${CARGO_TARGET_DIR:-target}/debug/ops-demo" e2e
