# Compile options for cospace's programs (the tests, the examples, the
# command), never for the library: a preset that only runs these programs can
# compile them more cheaply than the library it checks. The sanitizer presets
# use -O1 -g1 (what AddressSanitizer and ThreadSanitizer recommend, with line
# tables for their reports: the programs compile in about half the time of
# -O2 -g under a sanitizer), the test, backend and cross presets -g1 (line
# tables, no variable locations). The test and backend presets must agree:
# CI (.ci/run) shares one ccache between them, and a program that does not
# depend on the backend compiles to the same object in all four. The library
# keeps the build type's flags (full debug information for the gdb tests,
# which read its types), as do the gdb tests' own targets.
set(COSPACE_PROGRAM_OPTIONS "" CACHE STRING
  "Compile options (a list) for the tests, examples and command, not the library")

function(cospace_program_options target)
  if(COSPACE_PROGRAM_OPTIONS)
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:C,CXX>:${COSPACE_PROGRAM_OPTIONS}>")
  endif()
endfunction()
