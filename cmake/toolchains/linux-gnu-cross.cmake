# The body of the cross toolchain files: Debian's cross compiler for
# _cospace_triple, its sysroot at /usr/<triple>, and qemu-user to run tests.
# The per-architecture files set CMAKE_SYSTEM_PROCESSOR, _cospace_triple and
# _cospace_qemu, then include this one.
set(CMAKE_SYSTEM_NAME Linux)
find_program(_cospace_cxx ${_cospace_triple}-g++)
if(NOT _cospace_cxx)
  message(FATAL_ERROR "${_cospace_triple}-g++ not found: install Debian's package 'g++-${_cospace_triple}'")
endif()
find_program(_cospace_qemu_path ${_cospace_qemu})
if(NOT _cospace_qemu_path)
  message(FATAL_ERROR "${_cospace_qemu} not found: install Debian's package 'qemu-user'")
endif()
set(CMAKE_C_COMPILER ${_cospace_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_cospace_triple}-g++)
set(CMAKE_ASM_COMPILER ${_cospace_triple}-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${_cospace_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Through qemu-run, so that a test can re-execute itself (death tests) without binfmt_misc.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/qemu-run ${_cospace_qemu_path} /usr/${_cospace_triple})
