#!/usr/bin/env bash
# Runs every cargo-fuzz target of the protocol crate for FUZZ_SECONDS seconds each (default 30),
# seeded with the project's recorded requests and streams (crates/protocol/tests/fixtures), and
# prints each target's executions. Exits non-zero when a target crashes; the input that crashed is
# left in crates/protocol/fuzz/artifacts/<target>/: after the fix, copy it to
# crates/protocol/tests/fixtures/fuzz_crashes/<target>/<what-broke> (replayed by the conversions
# test fuzz_seeds::inputs_the_fuzzers_crashed_on_pass_now) and add a named regression test.
#
# Needs cargo-fuzz on PATH (.ci/run installs it) and a nightly toolchain (FUZZ_TOOLCHAIN; default
# nightly when installed, else the default toolchain with RUSTC_BOOTSTRAP=1). The corpus grows in
# FUZZ_CORPUS_DIR (default ~/.cache/agent-shim-ci/fuzz-corpus), so later runs start where earlier
# ones stopped. FUZZ_TARGETS limits the run to some targets.
set -euo pipefail
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
cd "$fuzz_dir/.."

seconds="${FUZZ_SECONDS:-30}"
# cargo-fuzz needs nightly compiler flags: a nightly toolchain when one is installed, else the
# machine's own toolchain with RUSTC_BOOTSTRAP=1 (a machine that can fetch no other toolchain).
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
  cargo=(cargo "+$FUZZ_TOOLCHAIN")
elif rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi
corpus_root="${FUZZ_CORPUS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-shim-ci/fuzz-corpus}"
fixtures="$PWD/tests/fixtures"
read -r -a targets <<< "${FUZZ_TARGETS:-anthropic_request chat_request responses_request sse_parser chat_stream anthropic_stream responses_stream}"

# The recorded inputs each target starts from.
seeds() {
  case "$1" in
    anthropic_request) echo "$fixtures/claude_code_request.json" ;;
    chat_request) echo "$fixtures/chat_request.json" ;;
    responses_request) echo "$fixtures/codex_request.json" ;;
    sse_parser) echo "$fixtures"/*_stream/*.sse ;;
    chat_stream) echo "$fixtures"/chat_stream/*.sse ;;
    anthropic_stream) echo "$fixtures"/anthropic_stream/*.sse ;;
    responses_stream) echo "$fixtures"/responses_stream/*.sse ;;
    *) echo "run.sh: unknown fuzz target '$1'" >&2; exit 2 ;;
  esac
}

echo "== building the fuzz targets (${cargo[*]}, $(rustc "${cargo[@]:1}" --version))"
# No sanitizer: the protocol crate has no unsafe code, and AddressSanitizer would cost about half
# the executions of each run.
flags=(--fuzz-dir "$fuzz_dir" --debug-assertions --sanitizer none)
"${cargo[@]}" fuzz build "${flags[@]}"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=()
for t in "${targets[@]}"; do
  corpus="$corpus_root/$t"
  mkdir -p "$corpus"
  for f in $(seeds "$t") "$fixtures/fuzz_crashes/$t"/*; do
    if [ -f "$f" ]; then cp "$f" "$corpus/seed-$(basename "$(dirname "$f")")-$(basename "$f")"; fi
  done
  log="$logs/$t.log"
  if "${cargo[@]}" fuzz run "${flags[@]}" "$t" "$corpus" -- \
      -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)
    echo "fuzz $t: ok, ${execs:-?} executions in ${seconds} s (${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) inputs)"
  else
    echo "fuzz $t: FAILED" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that crashed: ${failed[*]} (inputs in $fuzz_dir/artifacts/; keep each in" \
    "crates/protocol/tests/fixtures/fuzz_crashes/<target>/ once fixed)" >&2
  exit 1
fi
