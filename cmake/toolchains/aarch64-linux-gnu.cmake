# Cross-build for AArch64 with Debian's g++-aarch64-linux-gnu; tests run under qemu-user.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(_cospace_triple aarch64-linux-gnu)
set(_cospace_qemu qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
