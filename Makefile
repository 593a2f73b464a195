# The two commands of the README, and the pieces they are made of.
# Builds go to a target folder outside the clone so repeated runs (and CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ops-suite/target

.PHONY: demo test setup lint validate unit zip infra bench chaos
demo: setup  ## Run the demo on the local emulator.
	cargo run -q -p ops-tests --bin ops-demo

test:  ## Install what is missing, then every check CI runs.
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

validate:
	cargo run -q -p ops-cli -- validate infra/config/*.yaml

unit:
	cargo test --workspace

zip:
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --output-format zip --compiler cargo -p alarm-rollback -p backup -p cost-check -p deploy-hook -p ops-api

infra: zip
	bash scripts/infra-check.sh

bench: setup  ## One table in BENCHMARKS.md: cost engine vs DuckDB per export shape, format and thread count; cold starts vs Python; zip sizes; backup vs aws s3 sync (ROWS, CSV_ROWS, REPEAT, SHAPES, PARTS).
	bash scripts/bench.sh

chaos: setup  ## Every chaos scenario through the fault proxy over seeds 1-8 (CHAOS_SEEDS to change), as a table.
	bash scripts/chaos.sh
