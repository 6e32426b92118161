#!/usr/bin/env bash
# Checks cria as an installed package: installs a build into a temporary prefix, builds examples/simple
# as a separate CMake project with find_package(cria), and again with plain cc and pkg-config, runs both
# on the bundled model and compares their greedy text with `cria run --temp 0`. Also checks that
# libcria.so exports only the C API and that the installed cria finds its installed model.
# Usage: bash scripts/test-install.sh [BUILD_DIR]    (default build/release, already built)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/release}"
model=models/kjv-Q8_0.gguf
prompt="In the beginning God created"
n=24

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
pc="$(find "$prefix" -name cria.pc)"
[ -n "$pc" ] || fail "no cria.pc installed"
libdir="$(dirname "$(dirname "$pc")")"
[ -f "$prefix/include/cria/cria.h" ] || fail "no include/cria/cria.h"

echo "== libcria.so exports only cria_*"
extra="$(nm -D --defined-only "$libdir/libcria.so" | awk '{print $3}' | grep -v '^cria_' || true)"
[ -z "$extra" ] || fail "libcria.so exports more than the C API: $(echo "$extra" | head -5 | tr '\n' ' ')"

expected="$("$build/cria" -m "$model" -p "$prompt" -n "$n" --temp 0 --no-display-prompt 2>/dev/null)"
[ -n "$expected" ] || fail "cria run printed nothing"

echo "== examples/simple with find_package(cria)"
cmake -S examples/simple -B "$tmp/simple" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$tmp/simple" >/dev/null
got="$("$tmp/simple/simple" "$model" "$prompt" "$n")"
[ "$got" = "$expected" ] || fail "simple printed '$got', cria run printed '$expected'"

echo "== examples/simple with cc and pkg-config"
# shellcheck disable=SC2046  # pkg-config's flags are meant to split
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$tmp/simple-pc" examples/simple/simple.c \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs cria)
got="$(LD_LIBRARY_PATH="$libdir" "$tmp/simple-pc" "$model" "$prompt" "$n")"
[ "$got" = "$expected" ] || fail "simple (pkg-config) printed '$got', cria run printed '$expected'"

echo "== the installed cria finds the installed model"
log="$("$prefix/bin/cria" -p "$prompt" -n "$n" --temp 0 --no-display-prompt 2>&1 >"$tmp/run.out")" ||
  fail "installed cria failed: $log"
grep -q "model $prefix/share/cria/models/kjv-Q8_0.gguf" <<<"$log" || fail "installed cria did not use the installed model: $log"
[ "$(cat "$tmp/run.out")" = "$expected" ] || fail "installed cria printed '$(cat "$tmp/run.out")'"

echo "test-install: OK ($n greedy tokens: $expected)"
