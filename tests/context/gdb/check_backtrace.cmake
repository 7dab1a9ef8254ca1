# Runs the target under gdb in batch mode, breaks inside a context, takes a
# backtrace and checks that it walks to the context's entry and stops cleanly.
# Arguments: -DGDB=<gdb or empty> -DTARGET=<program>
if(NOT GDB)
  message("SKIPPED: gdb is not installed (Debian package 'gdb')")
  return()
endif()
# LeakSanitizer cannot run under ptrace; in sanitizer builds, leave it out here.
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
execute_process(
  COMMAND ${GDB} -batch -nx
          -ex "set debuginfod enabled off"
          -ex "break gdb_probe_inner"
          -ex "run"
          -ex "bt"
          -ex "continue"
          ${TARGET}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 120)
message("${out}${err}")
string(REGEX MATCH "#[0-9]+ +(0x[0-9a-f]+ in )?gdb_probe_inner" inner "${out}")
string(REGEX MATCH "#[0-9]+ +(0x[0-9a-f]+ in )?gdb_probe_middle" middle "${out}")
string(REGEX MATCH "#[0-9]+ +(0x[0-9a-f]+ in )?gdb_probe_entry" entry "${out}")
if(NOT inner OR NOT middle OR NOT entry)
  message(FATAL_ERROR "the backtrace does not walk from the probe to the context's entry")
endif()
foreach(bad "corrupt stack" "previous frame identical" "previous frame inner" "Cannot access memory")
  string(FIND "${out}${err}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the backtrace is not clean: found '${bad}'")
  endif()
endforeach()
# The context's root must be the last frame: nothing after the entry but the
# backend's own root (the trampoline, or glibc's __start_context).
string(REGEX MATCHALL "\n#[0-9]+ [^\n]*" frames "${out}")
list(LENGTH frames n)
if(n GREATER 8)
  message(FATAL_ERROR "the backtrace runs on past the context's root (${n} frames)")
endif()
if(NOT out MATCHES "back in main")
  message(FATAL_ERROR "the program did not finish after the breakpoint")
endif()
