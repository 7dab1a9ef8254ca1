// Checks the offsets of aarch64_frame.h, written once for the assembler,
// against the frame as C++ sees it.
#include <cstddef>
#include <cstdint>

#include "aarch64_frame.h"

namespace cospace::context {

struct aarch64_frame {
  std::uint64_t fpcr;
  std::uint64_t unused;
  std::uint64_t d8, d9, d10, d11, d12, d13, d14, d15;  // low 64 bits of v8-v15
  std::uint64_t x19, x20, x21, x22, x23, x24, x25, x26, x27, x28;
  std::uint64_t x29;             // frame pointer
  std::uint64_t resume_address;  // x30
};

static_assert(offsetof(aarch64_frame, fpcr) == COSPACE_AARCH64_FRAME_FPCR);
static_assert(offsetof(aarch64_frame, unused) == COSPACE_AARCH64_FRAME_UNUSED);
static_assert(offsetof(aarch64_frame, d8) == COSPACE_AARCH64_FRAME_D8);
static_assert(offsetof(aarch64_frame, d9) == COSPACE_AARCH64_FRAME_D9);
static_assert(offsetof(aarch64_frame, d10) == COSPACE_AARCH64_FRAME_D10);
static_assert(offsetof(aarch64_frame, d11) == COSPACE_AARCH64_FRAME_D11);
static_assert(offsetof(aarch64_frame, d12) == COSPACE_AARCH64_FRAME_D12);
static_assert(offsetof(aarch64_frame, d13) == COSPACE_AARCH64_FRAME_D13);
static_assert(offsetof(aarch64_frame, d14) == COSPACE_AARCH64_FRAME_D14);
static_assert(offsetof(aarch64_frame, d15) == COSPACE_AARCH64_FRAME_D15);
static_assert(offsetof(aarch64_frame, x19) == COSPACE_AARCH64_FRAME_X19);
static_assert(offsetof(aarch64_frame, x20) == COSPACE_AARCH64_FRAME_X20);
static_assert(offsetof(aarch64_frame, x21) == COSPACE_AARCH64_FRAME_X21);
static_assert(offsetof(aarch64_frame, x22) == COSPACE_AARCH64_FRAME_X22);
static_assert(offsetof(aarch64_frame, x23) == COSPACE_AARCH64_FRAME_X23);
static_assert(offsetof(aarch64_frame, x24) == COSPACE_AARCH64_FRAME_X24);
static_assert(offsetof(aarch64_frame, x25) == COSPACE_AARCH64_FRAME_X25);
static_assert(offsetof(aarch64_frame, x26) == COSPACE_AARCH64_FRAME_X26);
static_assert(offsetof(aarch64_frame, x27) == COSPACE_AARCH64_FRAME_X27);
static_assert(offsetof(aarch64_frame, x28) == COSPACE_AARCH64_FRAME_X28);
static_assert(offsetof(aarch64_frame, x29) == COSPACE_AARCH64_FRAME_X29);
static_assert(offsetof(aarch64_frame, resume_address) == COSPACE_AARCH64_FRAME_X30);
static_assert(sizeof(aarch64_frame) == COSPACE_AARCH64_FRAME_SIZE);
static_assert(COSPACE_AARCH64_FRAME_SIZE % 16 == 0, "frames must keep the stack 16-byte aligned");

// The .S names only the first register of each ldp/stp pair.
constexpr bool pair(int first, int second) { return first % 16 == 0 && second == first + 8; }
static_assert(pair(COSPACE_AARCH64_FRAME_FPCR, COSPACE_AARCH64_FRAME_UNUSED));
static_assert(pair(COSPACE_AARCH64_FRAME_D8, COSPACE_AARCH64_FRAME_D9));
static_assert(pair(COSPACE_AARCH64_FRAME_D10, COSPACE_AARCH64_FRAME_D11));
static_assert(pair(COSPACE_AARCH64_FRAME_D12, COSPACE_AARCH64_FRAME_D13));
static_assert(pair(COSPACE_AARCH64_FRAME_D14, COSPACE_AARCH64_FRAME_D15));
static_assert(pair(COSPACE_AARCH64_FRAME_X19, COSPACE_AARCH64_FRAME_X20));
static_assert(pair(COSPACE_AARCH64_FRAME_X21, COSPACE_AARCH64_FRAME_X22));
static_assert(pair(COSPACE_AARCH64_FRAME_X23, COSPACE_AARCH64_FRAME_X24));
static_assert(pair(COSPACE_AARCH64_FRAME_X25, COSPACE_AARCH64_FRAME_X26));
static_assert(pair(COSPACE_AARCH64_FRAME_X27, COSPACE_AARCH64_FRAME_X28));
static_assert(pair(COSPACE_AARCH64_FRAME_X29, COSPACE_AARCH64_FRAME_X30));
// ldp/stp of 64-bit registers reach offsets up to 504 from sp.
static_assert(COSPACE_AARCH64_FRAME_SIZE - 16 <= 504);

}  // namespace cospace::context
