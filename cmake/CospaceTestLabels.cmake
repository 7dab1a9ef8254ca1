# The targets that build the programs of a test label (tests/CMakeLists.txt
# says what each label holds and which preset runs it): cospace_tests_L builds
# the programs of the tests labelled L, and a preset that runs label L alone
# names that target in its build step. Included by the top-level CMakeLists.txt
# before tools/, examples/ and tests/, whose tests all carry labels.
foreach(_purpose backend threads cross)
  add_custom_target(cospace_tests_${_purpose})
endforeach()

# Makes the cospace_tests_L target of each label L among ARGN build `target`.
function(cospace_test_program target)
  foreach(_label IN LISTS ARGN)
    if(TARGET cospace_tests_${_label})
      add_dependencies(cospace_tests_${_label} ${target})
    endif()
  endforeach()
endfunction()
