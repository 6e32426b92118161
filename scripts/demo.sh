#!/usr/bin/env bash
# Builds cria and runs the bundled KJV model on a prompt. Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target cria  # only what the demo runs
./build/release/cria -p "In the beginning God created" -n 64
