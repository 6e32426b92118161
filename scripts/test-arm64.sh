#!/usr/bin/env bash
# Cross-compiles cria for 64-bit ARM (Debian's aarch64 toolchain) and runs the kernel, quantization and
# model reference tests under qemu-user, so the NEON kernels are tested on every x86 machine:
#   1. qemu's default CPU ('max', which has the dot-product extension): kernels, quantizers, the F32 and
#      Q4_K_M models against their references (CLI tests are left out: they start the binary itself);
#   2. a Cortex-A72 (ARMv8.0, no dotprod): the conformance tests again, checking that the run-time
#      detection drops the dotprod kernels and that no ARMv8.2 instruction leaks into common code;
#   3. CRIA_ISA=neon: the same models and threaded matmul with the plain NEON kernels.
# (The perplexity tests take minutes each under emulation and are not run here.)
# Usage: bash scripts/test-arm64.sh    (the build goes to build/arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh arm64

build=build/arm64
# Only what runs here is built: the engine and the ops, quant and model tests. The server (its protocol
# library, and HTTP on Boost and OpenSSL), cria pull (libcurl), the CLI, libcria.so and the other tests
# have no ARM-specific part and are tested natively.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake \
  -DCRIA_BUILD_SERVE=OFF -DCRIA_BUILD_HTTP=OFF -DCRIA_BUILD_HUB=OFF -DCRIA_MPI=OFF -DCRIA_BUILD_CLI=OFF -DCRIA_BUILD_SHARED=OFF -DCRIA_TEST_FOLDERS="ops;quant;model" \
  -DCRIA_TESTS_CXX_FLAGS=-O1 >/dev/null
cmake --build "$build" -j"$(nproc)" --target cria_tests

# The multiarch arm64 loader and libraries under / (see cmake/aarch64-toolchain.cmake for why not the
# cross toolchain's /usr/aarch64-linux-gnu).
export QEMU_LD_PREFIX=/
run_tests() { qemu-aarch64 "$build/tests/cria_tests" --gtest_brief=1 "$@"; }
log="$build/qemu-test.log"

echo "== arm64 (qemu cpu max, NEON + dotprod): kernels, quantization, model reference"
models='ModelReference*:KjvFiles/LlamaCppReference.GreedyContinuations/Q4_K_M'
run_tests --gtest_filter="Kernel*:Quant*:$models:-QuantizeCli*" | tee "$log"
if grep -q "neondot: not available" "$log"; then
  echo "error: the emulated CPU has dotprod but the dotprod kernels were not tested" >&2
  exit 1
fi

echo "== arm64 (qemu cpu cortex-a72, NEON without dotprod): kernel conformance"
QEMU_CPU=cortex-a72 run_tests --gtest_filter='Kernel*Conformance*' | tee "$log"
if ! grep -q "neondot: not available" "$log"; then
  echo "error: dotprod kernels were chosen on a CPU without the dot-product extension" >&2
  exit 1
fi

echo "== arm64 (CRIA_ISA=neon): model reference and threaded matmul on plain NEON"
CRIA_ISA=neon run_tests --gtest_filter="$models:KernelGemmConformance.MatmulThreads*"
