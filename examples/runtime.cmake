# Stack slicing: a Stackless-style tasklet runtime in C on cospace/slice.h.
cospace_example(tiny_runtime tiny_runtime.c)
set_target_properties(tiny_runtime PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
if(COSPACE_BUILD_TESTS)
  add_test(NAME example_tiny_runtime COMMAND tiny_runtime 2000)
  # 77: the sjlj backend cannot start slices on the thread's own stack.
  set_tests_properties(example_tiny_runtime PROPERTIES
    PASS_REGULAR_EXPRESSION "2000 tasklets finished, 0 wrong|skipped"
    SKIP_RETURN_CODE 77 LABELS backend)
  cospace_test_program(tiny_runtime backend)  # tasklets on slices (tests/CMakeLists.txt: the labels)
endif()
