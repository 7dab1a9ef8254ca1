# Cross-build for RISC-V 64 with Debian's g++-riscv64-linux-gnu; tests run under qemu-user.
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(_cospace_triple riscv64-linux-gnu)
set(_cospace_qemu qemu-riscv64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
