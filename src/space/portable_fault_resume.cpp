// Architectures whose growth faults resume as they are (see fault_resume.hpp).
#include "fault_resume.hpp"

namespace cospace::detail {

void resume_after_growth(void*, std::uintptr_t) noexcept {}

}  // namespace cospace::detail
