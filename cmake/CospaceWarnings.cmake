# Warnings (as errors when COSPACE_WERROR is on) for cospace's own targets only:
# third-party code (GoogleTest built from source, Boost headers) keeps its own flags.
function(cospace_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>
    $<$<AND:$<COMPILE_LANGUAGE:C,CXX>,$<BOOL:${COSPACE_WERROR}>>:-Werror>)
endfunction()
