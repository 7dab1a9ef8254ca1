// Checks the offsets of riscv64_frame.h, written once for the assembler,
// against the frame as C++ sees it.
#include <cstddef>
#include <cstdint>

#include "riscv64_frame.h"

namespace cospace::context {

struct riscv64_frame {
  std::uint64_t frm;
  std::uint64_t fs0, fs1, fs2, fs3, fs4, fs5, fs6, fs7, fs8, fs9, fs10, fs11;
  std::uint64_t s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11;
  std::uint64_t s0;              // frame pointer
  std::uint64_t resume_address;  // ra
};

static_assert(offsetof(riscv64_frame, frm) == COSPACE_RISCV64_FRAME_FRM);
static_assert(offsetof(riscv64_frame, fs0) == COSPACE_RISCV64_FRAME_FS0);
static_assert(offsetof(riscv64_frame, fs1) == COSPACE_RISCV64_FRAME_FS1);
static_assert(offsetof(riscv64_frame, fs2) == COSPACE_RISCV64_FRAME_FS2);
static_assert(offsetof(riscv64_frame, fs3) == COSPACE_RISCV64_FRAME_FS3);
static_assert(offsetof(riscv64_frame, fs4) == COSPACE_RISCV64_FRAME_FS4);
static_assert(offsetof(riscv64_frame, fs5) == COSPACE_RISCV64_FRAME_FS5);
static_assert(offsetof(riscv64_frame, fs6) == COSPACE_RISCV64_FRAME_FS6);
static_assert(offsetof(riscv64_frame, fs7) == COSPACE_RISCV64_FRAME_FS7);
static_assert(offsetof(riscv64_frame, fs8) == COSPACE_RISCV64_FRAME_FS8);
static_assert(offsetof(riscv64_frame, fs9) == COSPACE_RISCV64_FRAME_FS9);
static_assert(offsetof(riscv64_frame, fs10) == COSPACE_RISCV64_FRAME_FS10);
static_assert(offsetof(riscv64_frame, fs11) == COSPACE_RISCV64_FRAME_FS11);
static_assert(offsetof(riscv64_frame, s1) == COSPACE_RISCV64_FRAME_S1);
static_assert(offsetof(riscv64_frame, s2) == COSPACE_RISCV64_FRAME_S2);
static_assert(offsetof(riscv64_frame, s3) == COSPACE_RISCV64_FRAME_S3);
static_assert(offsetof(riscv64_frame, s4) == COSPACE_RISCV64_FRAME_S4);
static_assert(offsetof(riscv64_frame, s5) == COSPACE_RISCV64_FRAME_S5);
static_assert(offsetof(riscv64_frame, s6) == COSPACE_RISCV64_FRAME_S6);
static_assert(offsetof(riscv64_frame, s7) == COSPACE_RISCV64_FRAME_S7);
static_assert(offsetof(riscv64_frame, s8) == COSPACE_RISCV64_FRAME_S8);
static_assert(offsetof(riscv64_frame, s9) == COSPACE_RISCV64_FRAME_S9);
static_assert(offsetof(riscv64_frame, s10) == COSPACE_RISCV64_FRAME_S10);
static_assert(offsetof(riscv64_frame, s11) == COSPACE_RISCV64_FRAME_S11);
static_assert(offsetof(riscv64_frame, s0) == COSPACE_RISCV64_FRAME_S0);
static_assert(offsetof(riscv64_frame, resume_address) == COSPACE_RISCV64_FRAME_RA);
static_assert(sizeof(riscv64_frame) == COSPACE_RISCV64_FRAME_SIZE);
static_assert(COSPACE_RISCV64_FRAME_SIZE % 16 == 0, "frames must keep the stack 16-byte aligned");
// The frame record layout the header promises: ra at CFA - 8, s0 at CFA - 16.
static_assert(COSPACE_RISCV64_FRAME_RA == COSPACE_RISCV64_FRAME_SIZE - 8);
static_assert(COSPACE_RISCV64_FRAME_S0 == COSPACE_RISCV64_FRAME_SIZE - 16);
// addi and the load/store offsets are 12-bit signed immediates.
static_assert(COSPACE_RISCV64_FRAME_SIZE <= 2047);

}  // namespace cospace::context
