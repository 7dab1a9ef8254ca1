/* The AArch64 (AAPCS64) frame of a suspended context: each offset is written
 * once, here, for aarch64_aapcs64.S; aarch64_frame_check.cpp checks them
 * against a C++ struct with static_assert.
 *
 * A suspended context's handle is the address of this frame, which sits at
 * the lowest address of the live part of its stack:
 *
 *        higher addresses
 *   +0xb0  | caller's frame ...      |  <- stack pointer once resumed
 *   +0xa8  | x30 = resume address    |  return address of the jump call, or the trampoline
 *   +0xa0  | x29                     |
 *   +0x98  | x28                     |
 *    ...   | ...                     |
 *   +0x50  | x19                     |
 *   +0x48  | d15                     |
 *    ...   | ...                     |
 *   +0x10  | d8                      |
 *   +0x08  | unused                  |  free: room for a GCS pointer (see the .S header)
 *   +0x00  | FPCR                    |  <- handle (16-byte aligned)
 *        lower addresses
 *
 * The frame is 16-byte aligned because sp is 16-aligned at every call on
 * AArch64 (the hardware checks it) and the frame size is a multiple of 16.
 * The .S moves registers in pairs with ldp/stp, naming only the first of each
 * pair (FPCR/unused, d8/d9 ... d14/d15, x19/x20 ... x29/x30): the second must
 * sit 8 bytes above it and the pair must be 16-byte aligned, which the check
 * file asserts too.
 */
#ifndef COSPACE_SRC_CONTEXT_AARCH64_FRAME_H
#define COSPACE_SRC_CONTEXT_AARCH64_FRAME_H

#define COSPACE_AARCH64_FRAME_FPCR 0x00
#define COSPACE_AARCH64_FRAME_UNUSED 0x08
#define COSPACE_AARCH64_FRAME_D8 0x10
#define COSPACE_AARCH64_FRAME_D9 0x18
#define COSPACE_AARCH64_FRAME_D10 0x20
#define COSPACE_AARCH64_FRAME_D11 0x28
#define COSPACE_AARCH64_FRAME_D12 0x30
#define COSPACE_AARCH64_FRAME_D13 0x38
#define COSPACE_AARCH64_FRAME_D14 0x40
#define COSPACE_AARCH64_FRAME_D15 0x48
#define COSPACE_AARCH64_FRAME_X19 0x50
#define COSPACE_AARCH64_FRAME_X20 0x58
#define COSPACE_AARCH64_FRAME_X21 0x60
#define COSPACE_AARCH64_FRAME_X22 0x68
#define COSPACE_AARCH64_FRAME_X23 0x70
#define COSPACE_AARCH64_FRAME_X24 0x78
#define COSPACE_AARCH64_FRAME_X25 0x80
#define COSPACE_AARCH64_FRAME_X26 0x88
#define COSPACE_AARCH64_FRAME_X27 0x90
#define COSPACE_AARCH64_FRAME_X28 0x98
#define COSPACE_AARCH64_FRAME_X29 0xa0
#define COSPACE_AARCH64_FRAME_X30 0xa8
#define COSPACE_AARCH64_FRAME_SIZE 0xb0

#endif
