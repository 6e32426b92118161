#!/usr/bin/env bash
# Builds the GGUF reader fuzz target (clang, libFuzzer, ASan, UBSan) and fuzzes it for N seconds
# (default 60), starting from seeds made from the fixtures. Usage: bash fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[ "$seconds" -gt 0 ] || { echo "fuzzing skipped"; exit 0; }

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"

corpus=build/fuzz/corpus
mkdir -p "$corpus"
fixtures=(../shared/fixtures/models/kjv/gguf/*.gguf ../shared/fixtures/vocab/*.gguf)
if [ -e "${fixtures[0]}" ]; then
  ./build/fuzz/fuzz/make_fuzz_seeds "$corpus" "${fixtures[@]}" 2>/dev/null
else
  ./build/fuzz/fuzz/make_fuzz_seeds "$corpus" models/kjv-Q8_0.gguf
fi

UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./build/fuzz/fuzz/gguf_reader_fuzz "$corpus" -max_total_time="$seconds" -max_len=65536 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | tail -n 25
echo "fuzzing: no crash in ${seconds} s"
