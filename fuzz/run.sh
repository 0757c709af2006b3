#!/usr/bin/env bash
# Runs every fuzz target for a given time, one after the other, and summarises each run.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     # default: 60 seconds, every target
#
# Environment:
#   FUZZ_SANITIZER   address (default) or none
#   FUZZ_TIMEOUT     seconds one input may take before it counts as a hang (default 10)
#
# Each run is niced, one process (-jobs=1 -workers=1), starts from fuzz/seeds/<target> plus what
# earlier runs kept in fuzz/corpus/<target>, and writes crashing inputs to
# fuzz/artifacts/<target>/. Exits non-zero when any target found a crash, hang or leak.
set -euo pipefail

seconds="${1:-60}"
shift || true
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target_dir="$fuzz_dir/target"
sanitizer="${FUZZ_SANITIZER:-address}"
timeout="${FUZZ_TIMEOUT:-10}"
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=(file_name splitter config)
fi

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi
if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer, ...); this lets a stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=1
# libsqlite3-sys (through sqlx) compiles SQLite's C with -fsanitize=address when the target is; the
# amalgamation has two function-local statics named `aiOff`, which ASan's ODR check mistakes for
# a duplicate global and aborts on at start-up. Not our code, and not a real violation.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

echo "building fuzz targets (sanitizer: $sanitizer)..."
nice -n 19 cargo fuzz build --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" \
    --sanitizer "$sanitizer" > "$fuzz_dir/build.log" 2>&1 || {
    tail -n 30 "$fuzz_dir/build.log" >&2
    echo "fuzz build failed (full log: fuzz/build.log)" >&2
    exit 2
}

found_any=0
summary=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    seeds="$fuzz_dir/seeds/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    logs="$fuzz_dir/logs/$target"
    mkdir -p "$corpus" "$artifacts" "$logs"
    dict=()
    if [[ -f "$fuzz_dir/dict/$target.dict" ]]; then
        dict=("-dict=$fuzz_dir/dict/$target.dict")
    fi
    before="$(find "$artifacts" -maxdepth 1 -type f | wc -l)"
    echo "fuzzing $target for ${seconds}s..."
    started="$(date +%s)"
    # With -jobs, libFuzzer writes the run's output to ./fuzz-0.log: run from the log directory.
    rm -f "$logs/fuzz-0.log"
    status=0
    (
        cd "$logs"
        nice -n 19 cargo fuzz run --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" \
            --sanitizer "$sanitizer" "$target" "$corpus" "$seeds" -- \
            -jobs=1 -workers=1 -max_total_time="$seconds" -timeout="$timeout" \
            -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}"
    ) > "$logs/run.log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - started))
    log="$logs/fuzz-0.log"
    [[ -f "$log" ]] || log="$logs/run.log"

    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
    per_second="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
    last="$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1)"
    cov="$(grep -o 'cov: [0-9]*' <<< "$last" | grep -o '[0-9]*' || true)"
    ft="$(grep -o 'ft: [0-9]*' <<< "$last" | grep -o '[0-9]*' || true)"
    corp="$(grep -o 'corp: [0-9]*/[0-9]*[A-Za-z]*' <<< "$last" | cut -d' ' -f2 || true)"
    after="$(find "$artifacts" -maxdepth 1 -type f | wc -l)"
    crashes=$((after - before))
    if grep -qE '^(==[0-9]+==ERROR|SUMMARY: libFuzzer|.*deadly signal|.*Test unit written to)' "$log"; then
        [[ "$crashes" -gt 0 ]] || crashes=1
    fi
    line="$(printf '%-10s %5ss  runs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-12s crashes %s' \
        "$target" "$elapsed" "${runs:-?}" "${per_second:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")"
    echo "$line"
    summary+=("$line")
    if [[ "$crashes" -gt 0 || ( "$status" -ne 0 && -z "$runs" ) ]]; then
        found_any=1
        echo "  $target: see $log; new artifacts:" >&2
        find "$artifacts" -maxdepth 1 -type f -newermt "@$started" -printf '    %p\n' >&2 || true
    fi
done

echo
echo "summary (${seconds}s per target, sanitizer: $sanitizer):"
printf '%s\n' "${summary[@]}"
exit "$found_any"
