// Checks the offsets of x86_64_frame.h, written once for the assembler,
// against the frame as C++ sees it.
#include <cstddef>
#include <cstdint>

#include "x86_64_frame.h"

namespace cospace::context {

struct x86_64_frame {
  std::uint32_t mxcsr;
  std::uint16_t x87_control_word;
  std::uint16_t padding;
  std::uint64_t r12, r13, r14, r15, rbx, rbp;
  std::uint64_t resume_address;
};

static_assert(offsetof(x86_64_frame, mxcsr) == COSPACE_X86_64_FRAME_MXCSR);
static_assert(offsetof(x86_64_frame, x87_control_word) == COSPACE_X86_64_FRAME_X87CW);
static_assert(offsetof(x86_64_frame, r12) == COSPACE_X86_64_FRAME_R12);
static_assert(offsetof(x86_64_frame, r13) == COSPACE_X86_64_FRAME_R13);
static_assert(offsetof(x86_64_frame, r14) == COSPACE_X86_64_FRAME_R14);
static_assert(offsetof(x86_64_frame, r15) == COSPACE_X86_64_FRAME_R15);
static_assert(offsetof(x86_64_frame, rbx) == COSPACE_X86_64_FRAME_RBX);
static_assert(offsetof(x86_64_frame, rbp) == COSPACE_X86_64_FRAME_RBP);
static_assert(offsetof(x86_64_frame, resume_address) == COSPACE_X86_64_FRAME_RIP);
static_assert(sizeof(x86_64_frame) == COSPACE_X86_64_FRAME_SIZE);
static_assert(COSPACE_X86_64_FRAME_SIZE % 16 == 0, "frames must keep the stack 16-byte aligned");

}  // namespace cospace::context
