#!/usr/bin/env bash
# Builds cria and shows the bundled model. Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
./build/release/cria info models/kjv-Q8_0.gguf
