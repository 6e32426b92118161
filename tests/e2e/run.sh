#!/usr/bin/env bash
# End-to-end tests of `cria serve` on the bundled model, with the official OpenAI Node client and
# headless Chromium (puppeteer-core) from tests/e2e/package-lock.json:
# 1. a server with an API key: tests/e2e/openai.test.mjs (node --test);
#    a server with 1024 tokens per sequence: structured.test.mjs (JSON Schema, tools; checked by ajv);
# 2. a server with a long context, so that a reply streams long enough to be stopped: chat_page.mjs,
#    which leaves a screenshot in build/e2e-artifacts/.
# Usage: bash tests/e2e/run.sh [CRIA_BINARY]   (default build/release/cria)
set -euo pipefail
cd "$(dirname "$0")/../.."
cria="${1:-build/release/cria}"
artifacts="build/e2e-artifacts"
mkdir -p "$artifacts"

command -v node >/dev/null || { echo "e2e: node is missing (Node 20 is expected on the machine)"; exit 1; }
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Starts `cria serve` on a free port with the given flags and prints its URL once /health answers 200.
start_server() {
  local log="$artifacts/serve-$1.log"
  shift
  "$cria" serve --port 0 "$@" >"$log" 2>&1 &
  pids+=($!)
  local url=""
  for _ in $(seq 1 200); do
    url="$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | head -1 | sed 's/listening on //')" || true
    if [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1; then
      echo "$url"
      return 0
    fi
    sleep 0.1
  done
  echo "e2e: the server did not come up; its log:" >&2
  cat "$log" >&2
  return 1
}

key="e2e-$RANDOM-$RANDOM"
url="$(start_server api --api-key "$key" --alias kjv -np 4 --deterministic)"
echo "e2e: OpenAI client against $url"
(cd tests/e2e && CRIA_URL="$url" CRIA_API_KEY="$key" node --test --test-reporter=spec openai.test.mjs)

url="$(start_server structured --alias kjv -np 4 -c 4096 --ctx-per-seq 1024 --deterministic)"
echo "e2e: structured output and tool calls against $url"
(cd tests/e2e && CRIA_URL="$url" node --test --test-reporter=spec structured.test.mjs)

url="$(start_server page --alias kjv -np 2 -c 8192 --ctx-per-seq 8192)"
echo "e2e: chat page in Chromium against $url"
CRIA_URL="$url" SCREENSHOT_DIR="$artifacts" node tests/e2e/chat_page.mjs
echo "e2e: passed (screenshot in $artifacts/chat-page.png)"
