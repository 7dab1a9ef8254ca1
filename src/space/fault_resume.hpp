// The per-architecture part of the SIGSEGV handler: what the context a
// growth fault resumes with may need before the faulting instruction runs
// again. One file per architecture that needs something
// (x86_64_fault_resume.cpp: Valgrind's early stack-pointer move),
// portable_fault_resume.cpp (nothing) for the others; src/space/sources.cmake
// picks the file.
#pragma once

#include <cstdint>

namespace cospace::detail {

// Called by the handler after it grew the stack for a fault at `address`;
// `context` is the handler's third argument (a ucontext_t*).
void resume_after_growth(void* context, std::uintptr_t address) noexcept;

}  // namespace cospace::detail
