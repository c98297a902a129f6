#!/usr/bin/env bash
# CI smoke run of the benchmark harness, so it does not rot: W1 only, concurrency 1 and 4, a few
# hundred requests, no LiteLLM, nginx only if installed, a few open streams, launches and hook
# runs; then, when AGENT_SHIM_BENCH_CCR names claude-code-router's `ccr` (.ci/run installs it),
# W2 and W3 with it at c=1 and 4, 20 requests each. No timing thresholds: it fails only when the harness breaks (a process does not start, a
# request fails, a report is not written). PROFILE=debug uses a debug build (faster to build).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --release -p agent-shim -p fake-provider -p agent-shim-bench
else
  # The whole workspace with its test targets, so features unify as in the test build CI has just
  # made and no dependency is compiled a second time (three packages alone unify differently).
  cargo build --workspace --all-targets
fi
bin="${CARGO_TARGET_DIR:-target}/$profile/agent-shim-bench"

# The ledger-in-PostgreSQL rows, when the test database is there (.ci/run starts it): a scratch
# database made afresh.
if [ -n "${AGENT_SHIM_TEST_DATABASE_URL:-}" ] && command -v psql >/dev/null; then
  psql -q "$AGENT_SHIM_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS agent_shim_bench_smoke" \
    -c "CREATE DATABASE agent_shim_bench_smoke"
  export AGENT_SHIM_BENCH_DATABASE_URL="${AGENT_SHIM_TEST_DATABASE_URL%/*}/agent_shim_bench_smoke"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bin" run --no-litellm --no-ccr --workloads w1 --concurrency 1,4 --requests 200 --requests-high 200 \
  --max-seconds 30 --open-streams 50 --startup-runs 2 --hook-runs 3 --out "$out" --name smoke

for f in smoke.md smoke.json; do
  [ -s "$out/$f" ] || { echo "smoke: $f was not written" >&2; exit 1; }
done
grep -q '"workload": "W1"' "$out/smoke.json" || { echo "smoke: no W1 run in smoke.json" >&2; exit 1; }
grep -q '^| agent-shim | 1 |' "$out/smoke.md" || { echo "smoke: no agent-shim row in smoke.md" >&2; exit 1; }
grep -q '^| W1 | 1 | off |' "$out/smoke.md" || { echo "smoke: no ledger-off row in smoke.md" >&2; exit 1; }
if [ -n "${AGENT_SHIM_BENCH_DATABASE_URL:-}" ]; then
  grep -q '^| W1 | 1 | PostgreSQL |' "$out/smoke.md" || { echo "smoke: no PostgreSQL ledger row in smoke.md" >&2; exit 1; }
fi

if [ -n "${AGENT_SHIM_BENCH_CCR:-}" ]; then
  "$bin" run --no-litellm --no-nginx --workloads w2,w3 --concurrency 1,4 --requests 20 \
    --requests-high 20 --max-seconds 30 --open-streams 0 --startup-runs 0 --hook-runs 0 \
    --out "$out" --name smoke-ccr
  for w in W2 W3; do
    for c in 1 4; do
      grep -q "^| claude-code-router | $c |" <(sed -n "/^## $w /,/^## /p" "$out/smoke-ccr.md") \
        || { echo "smoke: no claude-code-router row for $w c=$c in smoke-ccr.md" >&2; exit 1; }
    done
  done
  grep -q '"cpu_ms_per_req_after_load"' "$out/smoke-ccr.json" \
    || { echo "smoke: no after-load CPU for claude-code-router in smoke-ccr.json" >&2; exit 1; }
else
  echo "bench smoke: claude-code-router left out (AGENT_SHIM_BENCH_CCR is not set; bench/install-ccr.sh installs it)"
fi
echo "bench smoke: ok"
