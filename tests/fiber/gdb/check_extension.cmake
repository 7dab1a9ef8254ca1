# Runs fiber_gdb_target under gdb in batch mode with tools/gdb/cospace.py and
# checks `info fibers` and `fiber bt`: what they show, what they refuse, and
# that the program runs on to its end afterwards (every register put back).
# Arguments: -DGDB=<gdb or empty> -DTARGET=<program> -DSCRIPT=<cospace.py>
#            -DBACKEND=<asm|sjlj|ucontext> -DARCH=<x86_64|aarch64|riscv64>
# Cross builds also pass -DQEMU=<qemu-user> -DSYSROOT=<the target's sysroot>:
# the program then runs under qemu-user's gdbstub (on a unix socket) and GDB
# (gdb-multiarch) attaches to it; the program makes no second thread there.
cmake_policy(VERSION 3.25)
if(NOT GDB)
  message("SKIPPED: gdb is not installed (Debian package 'gdb'; 'gdb-multiarch' for cross builds)")
  return()
endif()
# LeakSanitizer cannot run under ptrace; in sanitizer builds, leave it out here.
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
# fiber bt works with the asm backend; with the others it must refuse.
if(BACKEND STREQUAL "asm" AND ARCH MATCHES "^(x86_64|aarch64|riscv64)$")
  set(backtraces ON)
else()
  set(backtraces OFF)
endif()

set(failures "")
# These are functions, not macros, so that regular expressions reach
# MATCHES unchanged; each passes its failure up with PARENT_SCOPE.
function(expect text what)
  string(FIND "${${what}}" "${text}" at)
  if(at EQUAL -1)
    set(failures "${failures}  ${what}: expected '${text}'\n" PARENT_SCOPE)
  endif()
endfunction()
function(expect_regex regex what)
  if(NOT "${${what}}" MATCHES "${regex}")
    set(failures "${failures}  ${what}: expected a match for '${regex}'\n" PARENT_SCOPE)
  endif()
endfunction()
function(expect_not text what)
  string(FIND "${${what}}" "${text}" at)
  if(NOT at EQUAL -1)
    set(failures "${failures}  ${what}: did not expect '${text}'\n" PARENT_SCOPE)
  endif()
endfunction()

# The text between the line `@@ <from>` and the next `@@ ` marker.
function(section out from)
  string(FIND "${all}" "@@ ${from}\n" begin)
  if(begin EQUAL -1)
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  string(SUBSTRING "${all}" ${begin} -1 rest)
  string(LENGTH "@@ ${from}\n" skip)
  string(SUBSTRING "${rest}" ${skip} -1 rest)
  string(FIND "${rest}" "\n@@ " end)
  if(NOT end EQUAL -1)
    math(EXPR end "${end} + 1")
    string(SUBSTRING "${rest}" 0 ${end} rest)
  endif()
  set(${out} "${rest}" PARENT_SCOPE)
endfunction()

# Runs the program under gdb with the given -ex commands after the common
# ones; `start` (the first command) runs it to its first stop. Leaves gdb's
# output, then the program's, in `all`.
function(run_gdb)
  set(common -batch -nx -ex "set debuginfod enabled off" -ex "set width 0" -ex "source ${SCRIPT}")
  set(commands "")
  foreach(command IN LISTS ARGN)
    if(command STREQUAL "start")
      if(QEMU)
        set(command "continue")
      else()
        set(command "run")
      endif()
    endif()
    list(APPEND commands -ex "${command}")
  endforeach()
  if(NOT QEMU)
    execute_process(COMMAND ${GDB} ${common} ${commands} ${TARGET}
                    OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 120)
    set(all "${out}" PARENT_SCOPE)
    return()
  endif()
  string(RANDOM LENGTH 12 token)
  set(socket "/tmp/cospace-gdb-${token}.sock")
  set(program_output "/tmp/cospace-gdb-${token}.out")
  # A small reservation: qemu-user is slow to map the default one.
  execute_process(COMMAND sh -c "COSPACE_RESERVATION=16G \"$0\" -L \"$1\" -g \"$2\" \"$3\" one-thread >\"$4\" 2>&1 &"
                          ${QEMU} ${SYSROOT} ${socket} ${TARGET} ${program_output})
  foreach(_ RANGE 100)
    if(EXISTS "${socket}")
      break()
    endif()
    execute_process(COMMAND sleep 0.1)
  endforeach()
  execute_process(COMMAND ${GDB} ${common} -ex "set sysroot ${SYSROOT}" -ex "file ${TARGET}"
                          -ex "target remote ${socket}" ${commands}
                  OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 120)
  file(READ "${program_output}" printed)
  file(REMOVE "${socket}" "${program_output}")
  set(all "${out}${printed}" PARENT_SCOPE)
endfunction()

# A backtrace that is clean and ends at the fiber's root.
macro(expect_fiber_backtrace what waits_in)
  # yield's frame first. this_fiber::yield() is inline (fiber.hpp): its
  # library half, yield_switch, jumps as a tail call and leaves no frame,
  # except in the sanitizers' builds, where it and the code inlined into it
  # come first (CMake regexes have no {m,n}).
  expect_regex("^[^\n]*\n(#[0-9]+ [^\n]*\n)?(#[0-9]+ [^\n]*\n)?#[0-2] +(0x[0-9a-f]+ in )?cospace::this_fiber::yield" ${what})
  expect_regex("#[0-9]+ +(0x[0-9a-f]+ in )?[^\n]*${waits_in}" ${what})
  expect_regex("#[0-9]+ +(0x[0-9a-f]+ in )?cospace::detail::fiber_entry" ${what})
  foreach(bad "corrupt stack" "previous frame identical" "previous frame inner"
              "Cannot access memory" "Backtrace stopped")
    expect_not("${bad}" ${what})
  endforeach()
  string(REGEX MATCHALL "(^|\n)#[0-9]+ " _frames "${${what}}")
  list(LENGTH _frames _n)
  if(_n GREATER 11)  # the deepest, in a sanitizers' build: yield_switch (two lines, with the code inlined into it), yield, four waits_here, the body (two), fiber_entry, the trampoline
    string(APPEND failures "  ${what}: the backtrace runs on past the fiber's root (${_n} frames)\n")
  endif()
endmacro()

# First run: stop inside beta while it runs, then at the checkpoint.
run_gdb(
        "break beta_waits_here"
        "break gdb_checkpoint"
        start
        "echo @@ in beta\\n"
        "info fibers"
        "echo @@ in beta: fiber bt beta\\n"
        "fiber bt beta"
        "echo @@ in beta: fiber bt alpha\\n"
        "fiber bt alpha"
        "echo @@ to checkpoint\\n"
        "continue"
        "echo @@ info fibers\\n"
        "info fibers"
        "up"
        "echo @@ fiber bt alpha\\n"
        "fiber bt alpha"
        "echo @@ selected frame\\n"
        "frame"
        "echo @@ fiber bt gamma\\n"
        "fiber bt gamma"
        "echo @@ fiber bt delta\\n"
        "fiber bt delta"
        "echo @@ fiber bt omega\\n"
        "fiber bt omega"
        "echo @@ fiber bt kappa\\n"
        "fiber bt kappa"
        "echo @@ fiber bt tau\\n"
        "fiber bt tau"
        "echo @@ fiber bt sigma\\n"
        "fiber bt sigma"
        "echo @@ fiber bt epsilon\\n"
        "fiber bt epsilon"
        "echo @@ continue\\n"
        "continue")
message("${all}")

string(REGEX MATCH "fiber alpha has id ([0-9]+), ([0-9]+) bytes in use" _ "${all}")
set(alpha_id "${CMAKE_MATCH_1}")
set(alpha_use "${CMAKE_MATCH_2}")
string(REGEX MATCH "fiber beta has id ([0-9]+), ([0-9]+) bytes in use" _ "${all}")
set(beta_id "${CMAKE_MATCH_1}")
set(beta_use "${CMAKE_MATCH_2}")
foreach(name omega kappa tau sigma)
  string(REGEX MATCH "fiber ${name} has id ([0-9]+), ([0-9]+) bytes in use" _ "${all}")
  set(${name}_id "${CMAKE_MATCH_1}")
  set(${name}_use "${CMAKE_MATCH_2}")
endforeach()
string(FIND "${all}" "sliced fibers are not available" no_sliced)
if(alpha_id STREQUAL "" OR beta_id STREQUAL "" OR omega_id STREQUAL "")
  message(FATAL_ERROR "the program did not print its fibers' ids: did it reach the checkpoint?")
endif()

section(in_beta "in beta")
expect_regex("\n[0-9]+ +alpha +suspended +region +[0-9]+\n" in_beta)
expect_regex("\n[0-9]+ +beta +running \\(thread 1\\) +region +[0-9]+\n" in_beta)
expect_regex("\n[0-9]+ +delta +created +region +[0-9]+\n" in_beta)

section(in_beta_bt_beta "in beta: fiber bt beta")
expect("is running, so its frames are on thread 1's stack" in_beta_bt_beta)

section(in_beta_bt_alpha "in beta: fiber bt alpha")
section(fiber_bt_alpha "fiber bt alpha")
section(selected_frame "selected frame")
if(backtraces)
  expect_fiber_backtrace(in_beta_bt_alpha alpha_waits_here)
  expect_fiber_backtrace(fiber_bt_alpha alpha_waits_here)
  expect_not("beta_waits_here" fiber_bt_alpha)
  # The frame selected before (main, one up) is selected again.
  expect_regex("^#1 +(0x[0-9a-f]+ in )?main " selected_frame)
else()
  expect("fiber bt supports only the asm context backend" fiber_bt_alpha)
endif()

section(info "info fibers")
expect_regex("(^|\n)Id +Name +State +Stack +In use \\(bytes\\)\n" info)
expect_regex("\n${alpha_id} +alpha +suspended +region +${alpha_use}\n" info)
expect_regex("\n${beta_id} +beta +suspended +region +${beta_use}\n" info)
expect_regex("\n[0-9]+ +gamma +created +region +[0-9]+\n" info)
expect_regex("\n[0-9]+ +delta +done +region +[0-9]+\n" info)
# A fiber running on a second thread; only the sjlj backend may refuse to
# make it there (its stacks must lie below the thread's).
string(FIND "${all}" "fiber epsilon could not start" epsilon_refused)
if(NOT QEMU AND (epsilon_refused EQUAL -1 OR BACKEND STREQUAL "asm"))
  # Its thread's number varies (sanitizers start threads of their own): not 1.
  expect_regex("\n[0-9]+ +epsilon +running \\(thread [2-9][0-9]*\\) +region +[0-9]+\n" info)
  section(bt_epsilon "fiber bt epsilon")
  expect_regex("is running, so its frames are on thread [2-9][0-9]*'s stack" bt_epsilon)
endif()
# The other kinds of stack, each as fiber::stack_in_use() says.
expect_regex("\n${omega_id} +omega +suspended +fixed +${omega_use}\n" info)
# A region fiber of a space the program made, not the global one.
expect_regex("\n${kappa_id} +kappa +suspended +region +${kappa_use}\n" info)
if(no_sliced EQUAL -1)
  expect_regex("\n${tau_id} +tau +suspended +sliced +${tau_use}\n" info)
  expect_regex("\n${sigma_id} +sigma +suspended +sliced +${sigma_use}\n" info)
endif()
# The slicing machinery's own stacks (shared stacks, copier) are not fibers.
# An idle shared stack (psi's) is known only from a thread-local, which gdb
# cannot read through qemu-user's gdbstub: there it shows as "(no record)".
if(QEMU)
  string(REGEX REPLACE "\n[0-9]+ +- +\\(no record\\) +region +[0-9]+\n" "\n" info_but_idle "${info}")
  expect_not("(no record)" info_but_idle)
else()
  expect_not("(no record)" info)
endif()

section(bt_gamma "fiber bt gamma")
expect("was created but never resumed" bt_gamma)
section(bt_delta "fiber bt delta")
expect("is done" bt_delta)
section(bt_omega "fiber bt omega")
section(bt_sigma "fiber bt sigma")
section(bt_kappa "fiber bt kappa")
if(backtraces)
  expect_fiber_backtrace(bt_omega omega_waits_here)
  expect_fiber_backtrace(bt_kappa kappa_waits_here)
  expect_not("omega_waits_here" bt_kappa)
else()
  expect("fiber bt supports only the asm context backend" bt_omega)
endif()
if(no_sliced EQUAL -1 AND backtraces)
  # tau's slice was saved in the heap when sigma started on the same shared
  # stack: it is put back there for the backtrace, and taken away again, so
  # that sigma's backtrace (next) and both fibers' ends (below) are intact.
  section(bt_tau "fiber bt tau")
  expect("its slice's ${tau_use} saved bytes copied back onto its shared stack meanwhile" bt_tau)
  expect_fiber_backtrace(bt_tau tau_waits_here)
  expect_not("sigma_waits_here" bt_tau)
  expect_fiber_backtrace(bt_sigma sigma_waits_here)  # resident: it ran last on the shared stack
  expect_not("tau_waits_here" bt_sigma)
  expect_not("copied back" bt_sigma)
endif()

section(finish "continue")
expect("fibers finished: all done" finish)
expect("exited normally" finish)

# Second run: the same fibers by id, and ids that name nothing.
if(backtraces)
  run_gdb(
          "break gdb_checkpoint"
          start
          "echo @@ fiber bt ${beta_id}\\n"
          "fiber bt ${beta_id}"
          "echo @@ fiber bt 999999\\n"
          "fiber bt 999999"
          "echo @@ second continue\\n"
          "continue")
  message("${all}")
  expect("fiber beta has id ${beta_id}," all)  # the same ids as in the first run
  section(bt_beta "fiber bt ${beta_id}")
  expect("Fiber ${beta_id} 'beta', suspended" bt_beta)
  expect_fiber_backtrace(bt_beta beta_waits_here)
  expect_not("alpha_waits_here" bt_beta)
  section(bt_none "fiber bt 999999")
  expect("no fiber with id 999999" bt_none)
  section(finish "second continue")
  expect("fibers finished: all done" finish)
  expect("exited normally" finish)
endif()

# Third run: in non-stop mode another thread could be using a shared stack,
# so a sliced fiber whose slice is in the heap is refused (qemu-user's
# gdbstub has no non-stop mode).
if(no_sliced EQUAL -1 AND backtraces AND NOT QEMU)
  run_gdb("set non-stop on"
          "break gdb_checkpoint"
          start
          "echo @@ non-stop: fiber bt tau\\n"
          "fiber bt tau"
          "echo @@ non-stop: continue\\n"
          "continue")
  message("${all}")
  section(bt_tau "non-stop: fiber bt tau")
  expect("fiber ${tau_id} 'tau' is sliced and ${tau_use} of its bytes are saved in the heap; its frames can be walked only in place, and in non-stop mode" bt_tau)
  expect("fibers finished: all done" all)
endif()

if(failures)
  message(FATAL_ERROR "the gdb extension did not behave as expected:\n${failures}")
endif()
