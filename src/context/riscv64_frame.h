/* The RISC-V LP64D frame of a suspended context: each offset is written once,
 * here, for riscv64_lp64d.S; riscv64_frame_check.cpp checks them against a
 * C++ struct with static_assert.
 *
 * A suspended context's handle is the address of this frame, which sits at
 * the lowest address of the live part of its stack:
 *
 *        higher addresses
 *   +0xd0  | caller's frame ...      |  <- stack pointer once resumed
 *   +0xc8  | ra = resume address     |  return address of the jump call, or the trampoline
 *   +0xc0  | s0 (frame pointer)      |
 *   +0xb8  | s11                     |
 *    ...   | ...                     |
 *   +0x68  | s1                      |
 *   +0x60  | fs11                    |
 *    ...   | ...                     |
 *   +0x08  | fs0                     |
 *   +0x00  | frm, zero-extended      |  <- handle (16-byte aligned)
 *        lower addresses
 *
 * s0 and ra sit just below the caller's frame, where the psABI's frame
 * record would put them (ra at CFA - 8, the previous frame pointer at
 * CFA - 16).
 *
 * The frame is 16-byte aligned because the psABI keeps sp 16-aligned at
 * every call and the frame size is a multiple of 16. The floating-point slots
 * are 64 bits wide: LP64D's FLEN, the width the ABI preserves.
 */
#ifndef COSPACE_SRC_CONTEXT_RISCV64_FRAME_H
#define COSPACE_SRC_CONTEXT_RISCV64_FRAME_H

#define COSPACE_RISCV64_FRAME_FRM 0x00
#define COSPACE_RISCV64_FRAME_FS0 0x08
#define COSPACE_RISCV64_FRAME_FS1 0x10
#define COSPACE_RISCV64_FRAME_FS2 0x18
#define COSPACE_RISCV64_FRAME_FS3 0x20
#define COSPACE_RISCV64_FRAME_FS4 0x28
#define COSPACE_RISCV64_FRAME_FS5 0x30
#define COSPACE_RISCV64_FRAME_FS6 0x38
#define COSPACE_RISCV64_FRAME_FS7 0x40
#define COSPACE_RISCV64_FRAME_FS8 0x48
#define COSPACE_RISCV64_FRAME_FS9 0x50
#define COSPACE_RISCV64_FRAME_FS10 0x58
#define COSPACE_RISCV64_FRAME_FS11 0x60
#define COSPACE_RISCV64_FRAME_S1 0x68
#define COSPACE_RISCV64_FRAME_S2 0x70
#define COSPACE_RISCV64_FRAME_S3 0x78
#define COSPACE_RISCV64_FRAME_S4 0x80
#define COSPACE_RISCV64_FRAME_S5 0x88
#define COSPACE_RISCV64_FRAME_S6 0x90
#define COSPACE_RISCV64_FRAME_S7 0x98
#define COSPACE_RISCV64_FRAME_S8 0xa0
#define COSPACE_RISCV64_FRAME_S9 0xa8
#define COSPACE_RISCV64_FRAME_S10 0xb0
#define COSPACE_RISCV64_FRAME_S11 0xb8
#define COSPACE_RISCV64_FRAME_S0 0xc0
#define COSPACE_RISCV64_FRAME_RA 0xc8
#define COSPACE_RISCV64_FRAME_SIZE 0xd0

#endif
