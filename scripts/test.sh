#!/usr/bin/env bash
# The README's test command: installs what a fresh machine lacks, then runs every check CI runs:
# formatting, clippy, config validation, all Rust tests (unit + integration against moto), the
# release zip, and the Terraform checks (fmt, validate, apply/e2e/destroy on moto, checkov).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ops-suite/target}
export PATH="$root/.venv/bin:$PATH"
started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "setup"
bash scripts/setup.sh --test
# The status page is tested in a real browser: Debian's chromium and chromium-driver.
bash scripts/browser-setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# One debug build for everything below: the features `cargo test --workspace` resolves (the whole
# workspace with its dev-dependencies), which `--workspace --examples` resolves too; `make demo`
# builds with the same command, so after it nothing here compiles a dependency again
# (tests/src/runtime_api.rs, DEV_BUILD).
step "validate shipped configs"
cargo build --workspace --examples --bin opsctl
"$CARGO_TARGET_DIR/debug/opsctl" validate infra/config/*.yaml

step "cargo test (unit + integration against moto)"
mkdir -p "$root/.cache"
cargo test --workspace 2>&1 | tee "$root/.cache/cargo-test.log"

step "release zip (cargo lambda build)"
cargo lambda build --release --output-format zip --compiler cargo -p alarm-rollback -p backup -p cost-check -p deploy-hook -p ops-api
for function in alarm-rollback backup cost-check deploy-hook ops-api; do
  printf '%s release zip: %s bytes\n' "$function" "$(stat -c %s "$CARGO_TARGET_DIR/lambda/$function/bootstrap.zip")"
done

step "infra: terraform fmt/validate/apply/e2e/destroy on moto, checkov"
ARTIFACTS_DIR="$CARGO_TARGET_DIR/lambda" bash scripts/infra-check.sh

step "done"
# One closing line for CI: the totals of every cargo test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$root/.cache/cargo-test.log"
