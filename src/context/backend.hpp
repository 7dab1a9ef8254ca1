// The one place that maps the configured backend (CMake defines exactly one of
// COSPACE_CONTEXT_ASM, COSPACE_CONTEXT_SJLJ, COSPACE_CONTEXT_UCONTEXT) to its
// implementation. Everything above the context layer calls
// cospace::context::selected and never names a backend.
#pragma once

#include "backends.hpp"

namespace cospace::context {

#if defined(COSPACE_CONTEXT_ASM)
inline constexpr const backend& selected = asm_backend;
#elif defined(COSPACE_CONTEXT_SJLJ)
inline constexpr const backend& selected = sjlj_backend;
#elif defined(COSPACE_CONTEXT_UCONTEXT)
inline constexpr const backend& selected = ucontext_backend;
#else
#error "CMake must define one of COSPACE_CONTEXT_ASM, COSPACE_CONTEXT_SJLJ, COSPACE_CONTEXT_UCONTEXT"
#endif

}  // namespace cospace::context
