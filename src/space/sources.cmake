# Per-architecture sources of the space layer (see src/CMakeLists.txt).
# The SIGSEGV handler's resume fix-up (fault_resume.hpp): x86-64 has one
# (Valgrind's early rsp move); the other architectures need none.
set(_fault_resume_x86_64 x86_64_fault_resume.cpp)
set(_fault_resume_aarch64 portable_fault_resume.cpp)
set(_fault_resume_riscv64 portable_fault_resume.cpp)
target_sources(cospace_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/${_fault_resume_${COSPACE_ARCH}}
  # x86-64 instruction decoding, portable C++: built everywhere for its test
  ${CMAKE_CURRENT_LIST_DIR}/x86_64_push_correction.cpp)
