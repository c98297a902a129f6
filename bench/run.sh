#!/usr/bin/env bash
# The benchmark in one command: builds the release binaries, makes sure LiteLLM (a venv under
# ~/.cache/agent-shim-bench), claude-code-router (npm, bench/install-ccr.sh, under
# ~/.cache/agent-shim-bench) and nginx (apt) are there, and runs the harness, which writes
# bench/results/<date>.md and .json. Extra arguments go to `agent-shim-bench run`
# (e.g. --quick, --no-litellm, --no-nginx, --no-ccr, --workloads w1,w3). AGENT_SHIM_BENCH_DATABASE_URL (a
# scratch PostgreSQL database) adds the "ledger in PostgreSQL" rows. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

want_litellm=1 want_nginx=1 want_ccr=1
for a in "$@"; do
  case "$a" in
    --no-litellm) want_litellm=0 ;;
    --no-nginx) want_nginx=0 ;;
    --no-ccr) want_ccr=0 ;;
    --ccr|--ccr=*) want_ccr=0 ;;               # a ccr of the caller's
  esac
done

echo "== building release binaries"
cargo build --release -p agent-shim -p fake-provider -p agent-shim-bench

if [ "$want_litellm" = 1 ] && [ -z "${AGENT_SHIM_BENCH_LITELLM:-}" ]; then
  LITELLM_VERSION="${LITELLM_VERSION:-1.106.2}"
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/agent-shim-bench/litellm-$LITELLM_VERSION"
  ci_venv="${XDG_CACHE_HOME:-$HOME/.cache}/agent-shim-ci/litellm-$LITELLM_VERSION"
  if [ ! -f "$venv/.ok" ] && [ -f "$ci_venv/.ok" ]; then
    venv="$ci_venv"                          # the one .ci/run installs: same version
  fi
  if [ ! -f "$venv/.ok" ]; then
    echo "== installing litellm[proxy]==$LITELLM_VERSION into $venv (about a minute)"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if command -v uv >/dev/null 2>&1; then
      uv venv -q -p python3 "$venv"
      VIRTUAL_ENV="$venv" uv pip install -q "litellm[proxy]==$LITELLM_VERSION"
    else
      python3 -m venv "$venv"
      "$venv/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION"
    fi
    touch "$venv/.ok"
  fi
  export AGENT_SHIM_BENCH_LITELLM="$venv/bin/litellm"
fi

if [ "$want_ccr" = 1 ] && [ -z "${AGENT_SHIM_BENCH_CCR:-}" ]; then
  CCR_VERSION="${CCR_VERSION:-3.1.1}"
  ccr_dir="${XDG_CACHE_HOME:-$HOME/.cache}/agent-shim-bench/ccr-$CCR_VERSION"
  ci_ccr_dir="${XDG_CACHE_HOME:-$HOME/.cache}/agent-shim-ci/ccr-$CCR_VERSION"
  if [ "$(cat "$ccr_dir/.ok" 2>/dev/null)" != "$CCR_VERSION" ] \
    && [ "$(cat "$ci_ccr_dir/.ok" 2>/dev/null)" = "$CCR_VERSION" ]; then
    ccr_dir="$ci_ccr_dir"                    # the one .ci/run installs: same version
  fi
  AGENT_SHIM_BENCH_CCR="$(CCR_VERSION="$CCR_VERSION" bash bench/install-ccr.sh "$ccr_dir")"
  export AGENT_SHIM_BENCH_CCR
fi

if [ "$want_nginx" = 1 ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if command -v apt-get >/dev/null; then
    echo "== installing nginx (apt)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx >/dev/null
  else
    echo "nginx is not installed and apt-get is missing: the nginx rows will be left out" >&2
  fi
fi

exec "${CARGO_TARGET_DIR:-target}/release/agent-shim-bench" run "$@"
