# ctest helper: runs ${TOOL} ${ARGS} and passes when it exits with code 2 and
# says why on exactly one line of stderr, starting "cospace: ".
# EMULATOR: the cross presets' emulator command, its words joined with '|'.
string(REPLACE "|" ";" emulator "${EMULATOR}")
execute_process(COMMAND ${emulator} ${TOOL} ${ARGS}
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${err}" err)
if(NOT code EQUAL 2)
  message(FATAL_ERROR "expected exit code 2, got '${code}'; stderr: ${err}")
endif()
if(NOT err MATCHES "^cospace: [^\n]+$")
  message(FATAL_ERROR "expected one line 'cospace: ...' on stderr, got: '${err}'")
endif()
if(NOT out STREQUAL "")
  message(FATAL_ERROR "expected nothing on stdout, got: '${out}'")
endif()
message(STATUS "exit 2: ${err}")
