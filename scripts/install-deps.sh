#!/usr/bin/env bash
# Installs the Debian packages cria needs to build, test and fuzz. Safe to run again: it asks apt only
# for what is missing. Run as root on Debian 12.
set -euo pipefail

packages=(
  cmake ninja-build pkg-config gcc g++ binutils clang libclang-rt-14-dev
  libcli11-dev nlohmann-json3-dev libpcre2-dev libzip-dev libedit-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost1.81-dev libssl-dev curl libcurl4-openssl-dev
  # scripts/replicas-test.sh runs replicas of the server behind haproxy (deploy/haproxy.cfg).
  haproxy
  # The pipeline over MPI (src/dist: mpirun -np K cria ... --split-mode layer); iproute2 for its test
  # across two network namespaces.
  openmpi-bin libopenmpi-dev iproute2
  # The server's browser test (tests/e2e/chat_page.mjs) drives Debian's Chromium headless, which needs no
  # X server: 25 packages, ~125 MB to download, ~1.5 min to install.
  chromium
)

# `install-deps.sh arm64` adds what scripts/test-arm64.sh needs: the aarch64 cross compiler, qemu-user and
# the arm64 builds of the libraries cria links (header-only ones are shared with the native packages).
if [ "${1:-}" = arm64 ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  packages+=(
    g++-aarch64-linux-gnu qemu-user
    libc6:arm64 libstdc++6:arm64
    libpcre2-dev:arm64 libzip-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64 libbenchmark-dev:arm64
    libedit-dev:arm64
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
