# The tour: generator, producer/consumer pipeline, deep recursion, and the
# README's example. Each runs as a test that checks what it prints.
cospace_example(example_generator generator.cpp)
cospace_example(example_pipeline pipeline.cpp)
cospace_example(example_deep_recursion deep_recursion.cpp)
cospace_example(example_readme readme.cpp)

if(COSPACE_BUILD_TESTS)
  # Generators, fibers and deep recursion: what a context backend changes
  # (label backend, tests/CMakeLists.txt); none starts a thread.
  set(_tour example_generator example_pipeline example_readme)
  if(NOT CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
    list(APPEND _tour example_deep_recursion)
  endif()
  foreach(_example IN LISTS _tour)
    cospace_test_program(${_example} backend)
  endforeach()
  add_test(NAME example_generator COMMAND example_generator)
  set_tests_properties(example_generator PROPERTIES PASS_REGULAR_EXPRESSION
    "in order: 1 3 4 6 7 8 10 13 14\nodd squares: 1 9 25 49 81\n")
  add_test(NAME example_pipeline COMMAND example_pipeline)
  set_tests_properties(example_pipeline PROPERTIES PASS_REGULAR_EXPRESSION
    "^1 x /admin 403\n3 x /missing 404\n$")
  # ThreadSanitizer cannot follow a recursion a million calls deep in a fiber
  # (it crashes in its own bookkeeping): the example is not run there.
  if(NOT CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
    add_test(NAME example_deep_recursion COMMAND example_deep_recursion)
    set_tests_properties(example_deep_recursion PROPERTIES PASS_REGULAR_EXPRESSION
      "suspended at depth 750000, [0-9]+ MiB of stack in use\nsuspended at depth 1000000, [0-9]+ MiB of stack in use\nparsed 2000006 bytes: nesting depth 1000001, sum 42\nthe stack grew to")
  endif()
  add_test(NAME example_readme COMMAND example_readme)
  set_tests_properties(example_readme PROPERTIES PASS_REGULAR_EXPRESSION
    "^deep: 100000\nresumed\n1\n4\n9\n$")
  set_tests_properties(${_tour} PROPERTIES LABELS backend)
endif()
