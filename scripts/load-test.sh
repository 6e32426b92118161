#!/usr/bin/env bash
# The server's load and fault test at full length: 64 clients for 60 s (CI runs 15 s, and 10 s under the
# sanitizers) mixing streamed and whole requests, 10% leaving mid-stream, 5% malformed, a few over-long
# prompts; then no request left running and memory back within 10% of idle (tests/serve/load_test.cpp).
# Usage: bash scripts/load-test.sh [SECONDS]   (run after the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
CRIA_LOAD_SECONDS="${1:-60}" ./build/release/tests/cria_tests --gtest_filter='ServeLoad*'
