# The scheduler layer's examples: one fiber per connection on every core.
cospace_example(echo_server echo_server.cpp)
cospace_example(http_hello http_hello.cpp)

if(COSPACE_BUILD_TESTS)
  # Each served on a free port, two worker threads, to 40 clients at once (serve_test.sh: bash's
  # /dev/tcp, nothing to install). Label threads: they start threads, so the tsan preset runs them;
  # not backend, as the sjlj backend has no scheduler.
  cospace_test_program(echo_server threads)
  cospace_test_program(http_hello threads)
  add_test(NAME example_echo_server
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/serve_test.sh echo $<TARGET_FILE:echo_server>)
  add_test(NAME example_http_hello
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/serve_test.sh http $<TARGET_FILE:http_hello>)
  set_tests_properties(example_echo_server example_http_hello PROPERTIES LABELS threads TIMEOUT 180)
endif()
