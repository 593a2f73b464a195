#!/usr/bin/env bash
# Installs what a fresh machine lacks for the demo and the tests, into project-local folders:
#   .venv/          Python tools: moto server, cargo-lambda, checkov (versions pinned below)
#   .cache/terraform.rc  a Terraform CLI config using a local provider mirror when one exists
# Idempotent: a second run only checks. Prints the environment to source.
set -euo pipefail
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
want="moto=$MOTO_VERSION cargo-lambda=$CARGO_LAMBDA_VERSION checkov=${CHECKOV_VERSION:-any}"
# pip with retries: a download cut off mid-way (large wheels such as ziglang's) is tried again.
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
  pip_install $py "moto[server]==$MOTO_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION"
  # checkov pins many libraries of its own; keep it in its own venv so it cannot break moto.
  if [ ! -x .venv/checkov/bin/checkov ]; then
    python3 -m venv .venv/checkov
  fi
  pip_install .venv/checkov/bin/python "checkov${CHECKOV_VERSION:+==$CHECKOV_VERSION}"
  echo "$want" > "$stamp"
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
