#!/usr/bin/env bash
# Installs what a fresh machine lacks for the demo and the tests, into project-local folders:
#   .venv/          Python tools: moto server, cargo-lambda (versions pinned below)
#   .venv/checkov/  with --test only: checkov, in a venv of its own (the Terraform checks)
#   .cache/terraform.rc  with --test only: a Terraform CLI config using a local provider mirror
#                   when one exists
# `make demo` runs it without arguments (what the demo needs), `make test` with --test.
# Idempotent: a second run only checks.
set -euo pipefail
for_tests=0
case "${1:-}" in
  --test) for_tests=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

MOTO_VERSION=5.2.1
CARGO_LAMBDA_VERSION=1.9.2
CHECKOV_VERSION=${CHECKOV_VERSION:-}

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
py=.venv/bin/python
stamp=.venv/.ops-suite-tools
want="moto=$MOTO_VERSION cargo-lambda=$CARGO_LAMBDA_VERSION"
checkov_stamp=.venv/checkov/.ops-suite-tools
checkov_want="checkov=${CHECKOV_VERSION:-any}"
# pip with retries: a download cut off mid-way (large wheels such as checkov's dependencies') is
# tried again.
pip_install() {
  local python=$1; shift
  for attempt in 1 2 3; do
    "$python" -m pip install --quiet --disable-pip-version-check --retries 10 "$@" && return 0
    echo "setup: pip install failed (attempt $attempt of 3), retrying" >&2
    sleep $((attempt * 5))
  done
  return 1
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python tools into .venv ($want)" >&2
  pip_install $py --upgrade pip >/dev/null
  pip_install $py "moto[server]==$MOTO_VERSION"
  # cargo-lambda's only dependency is ziglang (a 400 MB cross-compiler): every build here uses
  # `--compiler cargo` for the machine's own architecture, so it is left out. Cross-compiling for
  # arm64 (`cargo lambda build --arm64`) needs it: `.venv/bin/pip install ziglang`.
  pip_install $py --no-deps "cargo-lambda==$CARGO_LAMBDA_VERSION"
  echo "$want" > "$stamp"
fi

[ "$for_tests" = 1 ] || exit 0

# checkov pins many libraries of its own; keep it in its own venv so it cannot break moto.
if [ ! -x .venv/checkov/bin/checkov ] || [ ! -f "$checkov_stamp" ] || [ "$(cat "$checkov_stamp")" != "$checkov_want" ]; then
  echo "setup: installing checkov into .venv/checkov ($checkov_want)" >&2
  if [ ! -x .venv/checkov/bin/python ]; then
    python3 -m venv .venv/checkov
  fi
  pip_install .venv/checkov/bin/python "checkov${CHECKOV_VERSION:+==$CHECKOV_VERSION}"
  echo "$checkov_want" > "$checkov_stamp"
fi

command -v terraform >/dev/null || { echo "setup: terraform is required on PATH (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }

# Terraform: when the machine carries a filesystem mirror of the AWS provider (no internet),
# write a CLI config that uses it. With internet access none of this is needed.
mkdir -p .cache
if [ ! -f .cache/terraform.rc ]; then
  # A mirror lays providers out as <root>/<registry host>/hashicorp/aws/<version>/<platform>/.
  provider=$(find / -path '*/hashicorp/aws/*' -name 'terraform-provider-aws*' \
    -not -path "$root/*" -not -path '*/.terraform/*' 2>/dev/null | head -n 1 || true)
  if [ -n "$provider" ]; then
    mirror=$(dirname "${provider%%/hashicorp/aws/*}")
    cat > .cache/terraform.rc <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["hashicorp/*"]
  }
}
RC
  else
    : > .cache/terraform.rc
  fi
fi
