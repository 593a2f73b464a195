#!/usr/bin/env bash
# Checks the suite's Terraform without an AWS account, from the repository root or anywhere:
#   1. terraform fmt -check -recursive infra, and no secret version (value) anywhere in infra/
#   2. checkov over infra/ with zero failed checks (every skip is justified inline in the .tf files)
#   3. against a moto server: init, validate, apply (examples/dev.tfvars), a second plan that must
#      show no changes, scripts/e2e-invoke.sh if it is there, and destroy
# Idempotent: every run works in a fresh scratch copy under .cache/ and its own moto server, and
# removes both when it exits.
#
# Environment:
#   ARTIFACTS_DIR     folder of the function zips, <function>/bootstrap.zip for every function
#                     infra/*.tf deploys (alarm-rollback, backup, cost-check, deploy-hook, ops-api)
#                     (default: ${CARGO_TARGET_DIR:-target}/lambda, as cargo lambda writes them)
#   AWS_ENDPOINT_URL  an emulator that is already running; used instead of starting moto
#   KEEP_SCRATCH=1    keep the scratch copy (state, plan, moto log) for debugging
#   E2E_SCRIPT        end-to-end hook run between apply and destroy (default scripts/e2e-invoke.sh;
#                     run when the file exists and is executable), with AWS_ENDPOINT_URL,
#                     STATE_BUCKET, CONFIG_URI, ALARM_ROLLBACK_FUNCTION, COST_CHECK_FUNCTION,
#                     DEPLOY_HOOK_FUNCTION, BACKUP_FUNCTION, BACKUP_BUCKET, BACKUP_KMS_KEY_ARN,
#                     ALARM_TOPIC_ARN, OPS_API_FUNCTION, OPS_API_ENDPOINT, API_KEYS_SECRET and
#                     SLACK_SIGNING_SECRET in its environment
#   SKIP_E2E=1        do not run the hook (when iterating on the Terraform alone)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$SECONDS

say() { printf '\n== infra-check: %s\n' "$*"; }
die() { printf 'infra-check: FAILED: %s\n' "$*" >&2; exit 1; }

# --- tools, as scripts/setup.sh installs them ------------------------------------------------
if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/checkov/bin/checkov ] || [ ! -f .cache/terraform.rc ]; then
  say "tools missing, running scripts/setup.sh --test"
  bash scripts/setup.sh --test
fi
command -v terraform >/dev/null || die "terraform is not on PATH"
python=.venv/bin/python
checkov=.venv/checkov/bin/checkov

# A CLI config pointing at a local provider mirror, when setup found one (machines without
# internet); with internet access the file is empty and terraform init downloads the provider.
if [ -s .cache/terraform.rc ]; then
  export TF_CLI_CONFIG_FILE="$root/.cache/terraform.rc"
elif [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  unset TF_CLI_CONFIG_FILE
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0
# A profile or session of the caller's shell must not leak into the emulator run.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN

# --- the function zips -----------------------------------------------------------------------
artifacts_dir=${ARTIFACTS_DIR:-${CARGO_TARGET_DIR:-target}/lambda}
case "$artifacts_dir" in /*) ;; *) artifacts_dir="$root/$artifacts_dir" ;; esac
# Every zip the configuration deploys: the <function> of each "${local.artifacts_dir}/<function>/
# bootstrap.zip" in infra/*.tf (alarm-rollback, backup, cost-check, deploy-hook, ops-api, ...), so a
# new function is checked too.
functions=$(grep -ho '{local\.artifacts_dir}/[A-Za-z0-9_-]*/bootstrap\.zip' infra/*.tf | cut -d/ -f2 | sort -u)
[ -n "$functions" ] || die "no \${local.artifacts_dir}/<function>/bootstrap.zip found in infra/*.tf"
missing=
for function in $functions; do
  if [ ! -f "$artifacts_dir/$function/bootstrap.zip" ]; then
    missing="$missing
  $artifacts_dir/$function/bootstrap.zip is missing; build it with:
    cargo lambda build --release --output-format zip --compiler cargo -p $function"
  fi
done
[ -z "$missing" ] || die "function zips missing:$missing
(or point ARTIFACTS_DIR at the folder holding <function>/bootstrap.zip for: $(echo $functions))"

# --- cleanup ---------------------------------------------------------------------------------
mkdir -p .cache/infra-check
scratch=$(mktemp -d "$root/.cache/infra-check/run.XXXXXX")
moto_pid=
applied=0
destroyed=0
external_endpoint=0
cleanup() {
  local rc=$?
  set +e
  # Against a shared emulator nothing else removes what this run created.
  if [ "$applied" = 1 ] && [ "$destroyed" = 0 ] && [ "$external_endpoint" = 1 ]; then
    echo "infra-check: destroying what this run created" >&2
    terraform -chdir="$scratch/infra" destroy -auto-approve -no-color "${tf_vars[@]}" >"$scratch/cleanup-destroy.log" 2>&1 \
      || echo "infra-check: cleanup destroy failed, see $scratch/cleanup-destroy.log" >&2
  fi
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null
    wait "$moto_pid" 2>/dev/null
  fi
  if [ "$rc" != 0 ] && [ -s "$scratch/moto.log" ]; then
    echo "--- last lines of the moto log ($scratch/moto.log)" >&2
    tail -n 20 "$scratch/moto.log" >&2
  fi
  if [ "${KEEP_SCRATCH:-0}" = 1 ] || { [ "$rc" != 0 ] && [ "$applied" = 1 ] && [ "$destroyed" = 0 ]; }; then
    echo "infra-check: scratch copy kept in $scratch" >&2
  else
    rm -rf "$scratch"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. formatting ---------------------------------------------------------------------------
say "terraform fmt -check -recursive infra"
terraform fmt -check -recursive -diff infra || die "run: terraform fmt -recursive infra"

# Secret values never enter the Terraform state: Terraform creates secrets, operators put their
# values (infra/README.md), so no configuration here may hold a secret version.
if grep -rn --include='*.tf' 'resource "aws_secretsmanager_secret_version"' infra; then
  die "a secret version in infra/ would put a secret value into the Terraform state"
fi

# --- 2. static analysis ----------------------------------------------------------------------
say "checkov -d infra --framework terraform"
# --skip-download: no Prisma Cloud guideline/mapping download (there may be no internet); it
# changes no check. Skips live next to the resources as #checkov:skip=<id>:<reason>.
checkov_out="$scratch/checkov.txt"
if ! "$checkov" -d infra --framework terraform --quiet --compact --skip-download >"$checkov_out" 2>&1; then
  cat "$checkov_out"
  die "checkov reported failed checks"
fi
cat "$checkov_out"
checkov_counts=$(grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' "$checkov_out" | tail -n 1)
case "$checkov_counts" in *"Failed checks: 0,"*) ;; *) die "checkov: unexpected summary: ${checkov_counts:-none}" ;; esac

# --- 3. emulator -----------------------------------------------------------------------------
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  endpoint=$AWS_ENDPOINT_URL
  external_endpoint=1
  say "using the emulator at $endpoint (AWS_ENDPOINT_URL)"
else
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  endpoint="http://127.0.0.1:$port"
  say "starting moto_server on $endpoint"
  # The same emulator as the tests: S3 conditional writes atomic (scripts/moto_server.py), ECS
  # services reporting running tasks so rollouts complete.
  MOTO_ECS_SERVICE_RUNNING=2 .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$scratch/moto.log" 2>&1 &
  moto_pid=$!
fi
"$python" - "$endpoint" <<'PY' || die "no emulator answering at $endpoint"
import sys, time, urllib.request, urllib.error
url = sys.argv[1].rstrip("/") + "/moto-api/"
for _ in range(150):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # answering, even if this emulator has no moto-api
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY

# A copy of the root as a user would deploy it (no local state, lock file or .terraform).
mkdir -p "$scratch/infra"
tar -C infra --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate' \
  --exclude='*.tfstate.*' --exclude='*.tfplan' --exclude=./emulator --exclude=./.emulator -cf - . |
  tar -C "$scratch/infra" -xf -
tf() { terraform -chdir="$scratch/infra" "$@"; }
tf_vars=(-var-file=examples/dev.tfvars -var "emulator_endpoint=$endpoint" -var "artifacts_dir=$artifacts_dir")

say "terraform init"
tf init -input=false -no-color >"$scratch/init.log" 2>&1 || { cat "$scratch/init.log"; die "terraform init"; }
say "terraform validate (the configuration as deployed to AWS)"
tf validate -no-color

# Then the emulator override: every provider endpoint at the emulator, dummy credentials.
cp infra/emulator/*.tf "$scratch/infra/"
say "terraform validate (with the emulator override)"
tf validate -no-color

# Both example variable files must plan; only dev is applied.
say "terraform plan -var-file=examples/prod.tfvars (not applied)"
tf plan -input=false -no-color -lock=false -refresh=false -var-file=examples/prod.tfvars \
  -var "emulator_endpoint=$endpoint" -var "artifacts_dir=$artifacts_dir" >"$scratch/plan-prod.log" 2>&1 \
  || { tail -n 40 "$scratch/plan-prod.log"; die "terraform plan with examples/prod.tfvars"; }
grep -E '^Plan:' "$scratch/plan-prod.log"

say "terraform apply (examples/dev.tfvars)"
t0=$SECONDS
applied=1
tf apply -auto-approve -input=false -no-color "${tf_vars[@]}" >"$scratch/apply.log" 2>&1 \
  || { tail -n 60 "$scratch/apply.log"; die "terraform apply"; }
apply_seconds=$((SECONDS - t0))
grep -E '^Apply complete' "$scratch/apply.log"

# --- no drift: a second plan must find nothing to do --------------------------------------------
say "terraform plan -detailed-exitcode (no drift)"
set +e
tf plan -detailed-exitcode -input=false -no-color -out=drift.tfplan "${tf_vars[@]}" >"$scratch/plan.log" 2>&1
plan_rc=$?
set -e
case "$plan_rc" in
  0) echo "no changes" ;;
  2)
    # moto 5.2 accepts LoggingConfig and KMSKeyArn in CreateFunction/UpdateFunctionConfiguration
    # but neither stores nor returns them, so Terraform always wants to set logging_config and
    # kms_key_arn of every function again. Those two attributes of aws_lambda_function resources
    # are the only changes tolerated here; any other change, to any resource, fails the check.
    tf show -json drift.tfplan >"$scratch/plan.json"
    "$python" - "$scratch/plan.json" <<'PY' || { grep -v '^\s*$' "$scratch/plan.log" | tail -n 60; die "the plan after apply is not empty (drift)"; }
import json, sys
TOLERATED = {"aws_lambda_function": {"logging_config", "kms_key_arn"}}
plan = json.load(open(sys.argv[1]))
bad, tolerated = [], []
for rc in plan.get("resource_changes", []):
    actions = rc["change"]["actions"]
    if actions in (["no-op"], ["read"]):
        continue
    before = rc["change"].get("before") or {}
    after = rc["change"].get("after") or {}
    unknown = rc["change"].get("after_unknown") or {}
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k) or unknown.get(k) is True}
    allowed = TOLERATED.get(rc["type"], set())
    if actions == ["update"] and changed and changed <= allowed:
        tolerated.append(f'{rc["address"]}: {", ".join(sorted(changed))}')
    else:
        bad.append(f'{rc["address"]}: {"/".join(actions)} {", ".join(sorted(changed))}')
for name, oc in (plan.get("output_changes") or {}).items():
    if oc["actions"] != ["no-op"]:
        bad.append(f"output {name}: {'/'.join(oc['actions'])}")
for t in tolerated:
    print(f"tolerated (moto does not return them): {t}")
for b in bad:
    print(f"DRIFT: {b}")
sys.exit(1 if bad else 0)
PY
    echo "no changes besides the tolerated moto gaps above"
    ;;
  *) tail -n 40 "$scratch/plan.log"; die "terraform plan" ;;
esac

# --- end-to-end hook (written by the functions' side of the project) ---------------------------
e2e_script=${E2E_SCRIPT:-scripts/e2e-invoke.sh}
e2e="not present"
if [ "${SKIP_E2E:-0}" = 1 ]; then
  e2e="skipped (SKIP_E2E=1)"
elif [ -f "$e2e_script" ]; then
  if [ -x "$e2e_script" ]; then
    say "$e2e_script"
    state_bucket=$(tf output -raw state_bucket)
    config_uri=$(tf output -raw config_uri)
    t0=$SECONDS
    STATE_BUCKET="$state_bucket" CONFIG_URI="$config_uri" AWS_ENDPOINT_URL="$endpoint" \
      AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
      ALARM_ROLLBACK_FUNCTION="$(tf output -raw alarm_rollback_function_name)" \
      COST_CHECK_FUNCTION="$(tf output -raw cost_check_function_name)" \
      DEPLOY_HOOK_FUNCTION="$(tf output -raw deploy_hook_function_name)" \
      BACKUP_FUNCTION="$(tf output -raw backup_function_name)" \
      BACKUP_BUCKET="$(tf output -raw backup_bucket)" \
      BACKUP_KMS_KEY_ARN="$(tf output -raw backup_kms_key_arn)" \
      ALARM_TOPIC_ARN="$(tf output -raw alarm_topic_arn)" \
      OPS_API_FUNCTION="$(tf output -raw ops_api_function_name)" \
      OPS_API_ENDPOINT="$(tf output -raw ops_api_endpoint)" \
      API_KEYS_SECRET="$(tf output -raw ops_api_keys_secret_arn)" \
      SLACK_SIGNING_SECRET="$(tf output -raw slack_signing_secret_arn)" \
      "$e2e_script" || die "$e2e_script failed"
    e2e="passed in $((SECONDS - t0))s"
  else
    echo "infra-check: $e2e_script is not executable, not run" >&2
    e2e="not executable, not run"
  fi
fi

# --- destroy ---------------------------------------------------------------------------------
# moto 5.2 answers DeleteObjects with HTTP 500 ('FakeDeleteMarker' object has no attribute
# 'dispose') on a bucket whose versioning is suspended and that holds delete markers, and
# destroying aws_s3_bucket_versioning suspends versioning before force_destroy empties the bucket.
# Delete markers appear as soon as a function deletes an object (the backup function releases
# its plan claims in the state bucket and prunes in the backup bucket). So the buckets this
# configuration created are emptied here first, while versioning is still enabled; against AWS
# force_destroy empties a suspended bucket without help.
say "emptying the state and backup buckets (moto cannot empty a suspended bucket with delete markers)"
"$python" - "$endpoint" "$(tf output -raw state_bucket)" "$(tf output -raw backup_bucket)" <<'PY' || die "emptying the buckets"
import sys
import boto3

endpoint, buckets = sys.argv[1], sys.argv[2:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
for bucket in buckets:
    deleted = 0
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
        if not versions:
            break
        result = s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions], "Quiet": True},
            BypassGovernanceRetention=True,
        )
        if result.get("Errors"):
            sys.exit(f"{bucket}: {result['Errors'][:3]}")
        deleted += len(versions)
    print(f"{bucket}: {deleted} object versions and delete markers deleted")
PY

say "terraform destroy"
t0=$SECONDS
tf destroy -auto-approve -input=false -no-color "${tf_vars[@]}" >"$scratch/destroy.log" 2>&1 \
  || { tail -n 60 "$scratch/destroy.log"; die "terraform destroy"; }
destroy_seconds=$((SECONDS - t0))
destroyed=1
grep -E '^Destroy complete' "$scratch/destroy.log"

say "done"
echo "apply: ${apply_seconds}s, destroy: ${destroy_seconds}s (wall time against the emulator)"
echo "infra-check: OK - fmt, checkov (${checkov_counts}), validate, apply ${apply_seconds}s, no drift, e2e ${e2e}, destroy ${destroy_seconds}s; total $((SECONDS - started))s"
