# `cospace bench` and `cospace plot` (tools/cospace/bench/bench_command.hpp),
# included by tools/cospace/CMakeLists.txt once the target cospace_tool exists.
#
# Needs nlohmann_json (Debian: nlohmann-json3-dev). Boost.Context is linked
# when found (the static library when there is one, so that jump_fcontext is a
# direct call, as cospace's switch is); without it the Boost rows say "not
# available". Go and greenlet are looked for when the command runs.
find_package(nlohmann_json 3 CONFIG QUIET)

target_sources(cospace_tool PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bench_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/child_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/alternatives.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_suite.cpp
  ${CMAKE_CURRENT_LIST_DIR}/measure.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/svg_chart.cpp
  ${CMAKE_CURRENT_LIST_DIR}/timing_suite.cpp)
if(NOT TARGET nlohmann_json::nlohmann_json)  # a cross build's sysroot has none
  cospace_tool_host_header_library(nlohmann_json::nlohmann_json nlohmann json.hpp nlohmann-json3-dev)
endif()
target_link_libraries(cospace_tool PRIVATE nlohmann_json::nlohmann_json)

if(NOT TARGET Boost::context)
  set(_cospace_tool_static_boost ${Boost_USE_STATIC_LIBS})
  set(Boost_USE_STATIC_LIBS ON)
  find_package(Boost 1.66 QUIET COMPONENTS context)
  if(NOT Boost_FOUND)
    set(Boost_USE_STATIC_LIBS OFF)
    find_package(Boost 1.66 QUIET COMPONENTS context)
  endif()
  set(Boost_USE_STATIC_LIBS ${_cospace_tool_static_boost})
endif()
if(TARGET Boost::context)
  target_link_libraries(cospace_tool PRIVATE Boost::context)
  target_compile_definitions(cospace_tool PRIVATE COSPACE_TOOL_HAVE_BOOST=1)
  message(STATUS "cospace bench: the command compares with Boost.Context")
else()
  message(STATUS "cospace bench: Boost.Context not found, the command's Boost rows say \"not available\"")
endif()

# Tests of the two commands (check_bench_cli.py says what each checks).
if(COSPACE_BUILD_TESTS)
  # The top-level CMakeLists.txt enables testing after adding tools/: without
  # this, tests added here would not reach ctest.
  enable_testing()
  find_program(COSPACE_TOOL_PYTHON3 NAMES python3)
  if(COSPACE_TOOL_PYTHON3)
    # The script runs the command given after the output directory: in a cross
    # build, the tool under the presets' emulator (qemu-user).
    set(_check ${COSPACE_TOOL_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/check_bench_cli.py)
    set(_tool ${CMAKE_CROSSCOMPILING_EMULATOR} $<TARGET_FILE:cospace_tool>)
    add_test(NAME cospace_bench_quick_json COMMAND ${_check} json ${CMAKE_CURRENT_BINARY_DIR} ${_tool})
    add_test(NAME cospace_plot_svg COMMAND ${_check} svg ${CMAKE_CURRENT_BINARY_DIR} ${_tool})
    add_test(NAME cospace_plot_unwritable COMMAND ${_check} unwritable ${CMAKE_CURRENT_BINARY_DIR} ${_tool})
    # `scale`: whole benchmark runs; the per-backend and cross presets skip them.
    set_tests_properties(cospace_bench_quick_json cospace_plot_svg PROPERTIES
      TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS scale)
  else()
    message(STATUS "cospace bench: no python3, the tests of `cospace bench` and `cospace plot` are not added")
  endif()
endif()
