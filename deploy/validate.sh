#!/usr/bin/env bash
# Checks the cloud side as code without a cloud account: every Terraform file parses as HCL2
# (python-hcl2, and `terraform fmt -check` when Terraform is installed; `terraform validate`
# also checks provider schemas, which needs the providers from registry.terraform.io),
# and the Packer template passes `packer validate` (Debian's `packer` package). Tools are
# installed into .tmp/ (PyPI) or taken from PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tmp/hcl-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q python-hcl2==8.1.4
fi
status=0
for f in deploy/terraform/*/*.tf deploy/worker-vm/*.pkr.hcl; do
  if "$venv/bin/python" -c 'import hcl2, sys; hcl2.load(open(sys.argv[1]))' "$f"; then echo "ok   $f"; else echo "FAIL $f"; status=1; fi
done
if command -v terraform >/dev/null 2>&1; then
  # fmt parses with Terraform's own HCL parser and needs no providers.
  terraform fmt -check -recursive deploy/terraform || status=1
  for d in deploy/terraform/gcp deploy/terraform/azure; do
    if (cd "$d" && terraform init -backend=false -input=false >/dev/null 2>&1); then
      (cd "$d" && terraform validate) || status=1
    else
      echo "$d: providers could not be installed (registry.terraform.io unreachable?): schemas not checked"
    fi
  done
else
  echo "terraform not installed: Terraform files checked for HCL syntax only"
fi
if command -v packer >/dev/null 2>&1; then
  packer validate -var worker_image=registry.example/hail-batch/worker:1 -var gcp_project=p \
    -var azure_subscription_id=s -var azure_resource_group=r deploy/worker-vm/worker.pkr.hcl || status=1
else
  echo "packer not installed (apt-get install packer): template checked for syntax only"
fi
exit $status
