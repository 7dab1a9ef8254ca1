# Sets COSPACE_ARCH from the target processor; the asm backend has one .S file per value.
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _cospace_proc)
if(_cospace_proc MATCHES "^(x86_64|amd64)$")
  set(COSPACE_ARCH x86_64)
elseif(_cospace_proc MATCHES "^(aarch64|arm64)$")
  set(COSPACE_ARCH aarch64)
elseif(_cospace_proc MATCHES "^riscv64$")
  set(COSPACE_ARCH riscv64)
else()
  message(FATAL_ERROR
    "cospace does not support the processor '${CMAKE_SYSTEM_PROCESSOR}'; "
    "the supported ones are: x86_64, aarch64, riscv64")
endif()
if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  message(FATAL_ERROR "cospace supports Linux only (CMAKE_SYSTEM_NAME is '${CMAKE_SYSTEM_NAME}')")
endif()
if(COSPACE_SHARED_FP_CONTROL)
  set(COSPACE_SHARED_FP_CONTROL_NOTE " (floating-point control state shared per thread)")
endif()
