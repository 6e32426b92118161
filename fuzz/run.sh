#!/usr/bin/env bash
# Builds the fuzz targets (the `sanitize` preset: clang, libFuzzer, ASan, UBSan) and fuzzes them for N
# seconds in all (default 60): half for the GGUF reader, starting from seeds made from the fixtures, a
# quarter for the OpenAI request parsers, starting from the request bodies in fuzz/seeds/openai, and a
# quarter for the GBNF parser and matcher, from the grammars in fuzz/seeds/gbnf.
# Usage: bash fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[ "$seconds" -gt 0 ] || { echo "fuzzing skipped"; exit 0; }
gguf_seconds=$((seconds / 2))
request_seconds=$(((seconds - gguf_seconds) / 2))
gbnf_seconds=$((seconds - gguf_seconds - request_seconds))

cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j"$(nproc)" --target gguf_reader_fuzz openai_request_fuzz gbnf_fuzz make_fuzz_seeds

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# -max_total_time=0 would mean no limit, so a share of 0 s skips that target.
if [ "$gguf_seconds" -gt 0 ]; then
  corpus=build/sanitize/corpus
  mkdir -p "$corpus"
  fixtures=(../shared/fixtures/models/kjv/gguf/*.gguf ../shared/fixtures/vocab/*.gguf)
  if [ -e "${fixtures[0]}" ]; then
    ./build/sanitize/fuzz/make_fuzz_seeds "$corpus" "${fixtures[@]}" 2>/dev/null
  else
    ./build/sanitize/fuzz/make_fuzz_seeds "$corpus" models/kjv-Q8_0.gguf
  fi
  ./build/sanitize/fuzz/gguf_reader_fuzz "$corpus" -max_total_time="$gguf_seconds" -max_len=65536 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | tail -n 25
  echo "fuzzing the GGUF reader: no crash in ${gguf_seconds} s"
fi

# New inputs go to the build folder's corpus; the committed seeds are only read.
request_corpus=build/sanitize/corpus-openai
mkdir -p "$request_corpus"
./build/sanitize/fuzz/openai_request_fuzz "$request_corpus" fuzz/seeds/openai -dict=fuzz/openai_request.dict \
  -max_total_time="$request_seconds" -max_len=16384 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
  tail -n 25
echo "fuzzing the OpenAI request parsers: no crash in ${request_seconds} s"

if [ "$gbnf_seconds" -gt 0 ]; then
  gbnf_corpus=build/sanitize/corpus-gbnf
  mkdir -p "$gbnf_corpus"
  ./build/sanitize/fuzz/gbnf_fuzz "$gbnf_corpus" fuzz/seeds/gbnf -max_total_time="$gbnf_seconds" -max_len=4096 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | tail -n 25
  echo "fuzzing the GBNF parser and matcher: no crash in ${gbnf_seconds} s"
fi
