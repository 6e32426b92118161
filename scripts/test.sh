#!/usr/bin/env bash
# Builds cria and runs every test: the unit and fixture tests (release build, with a 15 s load test of the
# server), the C example built against an installed package (scripts/test-install.sh), `cria serve` end to
# end with the OpenAI Node client and headless Chromium (tests/e2e/run.sh), a model split over 2 and 3
# processes with mpirun (tests/dist, in the release tests), three replicas behind haproxy
# under the load test with one killed midway (scripts/replicas-test.sh), the GGUF, kernel, cache, batch
# and server tests again under AddressSanitizer and UndefinedBehaviorSanitizer, and a one-minute fuzzing
# run of the GGUF reader and the OpenAI request parsers.
# Then the ARM build under qemu-user (scripts/test-arm64.sh).
# Usage: bash scripts/test.sh    (FUZZ_SECONDS=0 skips the fuzzing run, ARM64=0 the ARM build)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs="$(nproc)"
# Each stage's heading shows the seconds since the start, so a slow CI run shows where its time went.
stage() { echo "== [${SECONDS} s] $*"; }

stage "release build and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs"
ctest --preset release -j"$jobs"
bash scripts/test-install.sh build/release

stage "cria serve end to end: the OpenAI Node client and the chat page in Chromium"
bash tests/e2e/run.sh build/release/cria

stage "replicas behind haproxy: three cria serve under the load test, one killed midway"
bash scripts/replicas-test.sh 10

stage "sanitizer build (clang, ASan + UBSan, -O1): reader, writer, malformed files, codecs, kernels, tokenizers, templates, checkpoint parsers, KV cache, batches, HTTP, the OpenAI protocol and the scheduler"
# One build serves these tests and the fuzzers below (fuzz/run.sh adds its targets to it); the preset
# builds only the folders whose tests run here (not the CLI and the tests that start it).
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j"$jobs" --target cria_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 CRIA_LOAD_SECONDS=10 \
  ./build/sanitize/tests/cria_tests --gtest_filter='Gguf*:Quant*:Kernel*:Gbnf*:JsonSchema*:TokenMask*:ToolCalls*:HubFiles*:Pull*:Sampler*:Tokenizer*:ModelReference*:ChatTemplate*:JinjaSemantics*:JinjaMarkup*:JinjaHostile.Damaged*:StateDictPickle*:ConvertHostile*:KvCache*:RunnerErrors*:ModelPerLayer*:ModelArchLoading*:ArchFiles/ArchReference.BatchedEqualsAlone*:ArchFiles/ArchReference.Shifted*:*BatchedDecode*:Http*:OpenAi*:Serve*' --gtest_brief=1

stage "fuzzing the GGUF reader and the OpenAI request parsers for ${FUZZ_SECONDS:-60} s"
bash fuzz/run.sh "${FUZZ_SECONDS:-60}"

if [ "${ARM64:-1}" != 0 ]; then
  stage "arm64 cross build: NEON kernels, quantization and model tests under qemu-user"
  bash scripts/test-arm64.sh
fi
stage "done"
