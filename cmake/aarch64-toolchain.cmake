# Cross-compiling for 64-bit ARM Linux with Debian's aarch64 toolchain (g++-aarch64-linux-gnu) against the
# arm64 libraries of a multiarch install (dpkg --add-architecture arm64; libpcre2-dev:arm64, libgtest-dev:arm64).
# Header-only packages (CLI11, nlohmann-json) are shared with the build machine. Test binaries run under
# qemu-user. Used by scripts/test-arm64.sh:
#   cmake -S . -B build/arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# Libraries and CMake packages from /usr/lib/aarch64-linux-gnu, never the build machine's own.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config reads only the arm64 .pc files (and the architecture-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
# Binaries run with the arm64 multiarch loader and libraries under /. Not with -L /usr/aarch64-linux-gnu:
# that prefix's loader (libc6-arm64-cross) would pick up libc.so.6:arm64 of a different build through the
# host's ld.so cache, and pthread_create then hangs.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
