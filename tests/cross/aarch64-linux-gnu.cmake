# Cross-compiling optkern::core for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu, to
# check that no x86 code leaks into a non-x86 build (.ci/run builds it; nothing here runs it).
#   cmake -S . -B build/aarch64 --toolchain tests/cross/aarch64-linux-gnu.cmake \
#         -DCMAKE_PREFIX_PATH="$(python -m cmeel cmake)"
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Eigen is header-only: take it from the host's prefixes (cmeel-eigen or the system).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
