// x86-64: a growth fault taken under Valgrind by a call or push resumes with
// rsp already moved (see valgrind_push_correction in fault_handler.hpp); the
// handler moves it back. Nothing to do outside Valgrind, or in a build
// without valgrind/memcheck.h.
#include <ucontext.h>

#include "fault_handler.hpp"
#include "fault_resume.hpp"
#include "sanitizer.hpp"

namespace cospace::detail {

void resume_after_growth([[maybe_unused]] void* context, [[maybe_unused]] std::uintptr_t address) noexcept {
#if COSPACE_VALGRIND
  if (!under_valgrind()) return;
  mcontext_t& m = static_cast<ucontext_t*>(context)->uc_mcontext;
  m.gregs[REG_RSP] += static_cast<greg_t>(valgrind_push_correction(
      reinterpret_cast<const unsigned char*>(m.gregs[REG_RIP]), static_cast<std::uintptr_t>(m.gregs[REG_RSP]),
      address));
#endif
}

}  // namespace cospace::detail
