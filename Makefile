# The two commands of the README, and the pieces they are made of.
# Builds go to a target folder outside the clone so repeated runs (and CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ops-suite/target

# The one debug build the demo, the tests and the end-to-end check share: features resolved once
# for the whole workspace with its dev-dependencies (the set `cargo test --workspace` uses), so
# every crate compiles once (tests/src/runtime_api.rs, DEV_BUILD, explains why).
DEV_BUILD = cargo build --workspace --examples
# The demo and the functions it runs, built in one go.
DEMO_BINS = --bin ops-demo --bin deploy-hook --bin alarm-rollback --bin backup

.PHONY: demo test setup setup-test lint validate unit zip infra bench chaos
demo: setup  ## Run the demo on the local emulator.
	$(DEV_BUILD) $(DEMO_BINS)
	"$(CARGO_TARGET_DIR)/debug/ops-demo"

test:  ## Install what is missing, then every check CI runs.
	bash scripts/test.sh

setup:  ## What the demo needs (moto, cargo-lambda).
	bash scripts/setup.sh

setup-test:  ## Also what only the tests need (checkov).
	bash scripts/setup.sh --test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

validate:
	$(DEV_BUILD) --bin opsctl
	"$(CARGO_TARGET_DIR)/debug/opsctl" validate infra/config/*.yaml

unit:
	cargo test --workspace

zip:
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --output-format zip --compiler cargo -p alarm-rollback -p backup -p cost-check -p deploy-hook -p ops-api

infra: zip setup-test
	bash scripts/infra-check.sh

bench: setup  ## One table in BENCHMARKS.md: cost engine vs DuckDB per export shape, format and thread count; cold starts vs Python; zip sizes; backup vs aws s3 sync (ROWS, CSV_ROWS, REPEAT, SHAPES, PARTS).
	bash scripts/bench.sh

chaos: setup  ## Every chaos scenario through the fault proxy over seeds 1-8 (CHAOS_SEEDS to change), as a table.
	bash scripts/chaos.sh
