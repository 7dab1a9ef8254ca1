/* The x86-64 System V frame of a suspended context: each offset is written
 * once, here, for x86_64_sysv.S; frame_layout.cpp checks them against a C++
 * struct with static_assert.
 *
 * A suspended context's handle is the address of this frame, which sits at
 * the lowest address of the live part of its stack:
 *
 *        higher addresses
 *   +0x40  | caller's frame ...      |  <- stack pointer once resumed
 *   +0x38  | resume address (rip)    |  return address of the jump call, or the trampoline
 *   +0x30  | rbp                     |
 *   +0x28  | rbx                     |
 *   +0x20  | r15                     |
 *   +0x18  | r14                     |
 *   +0x10  | r13                     |
 *   +0x08  | r12                     |
 *   +0x04  | x87 control word, pad   |
 *   +0x00  | MXCSR                   |  <- handle (16-byte aligned)
 *        lower addresses
 *
 * The frame is 16-byte aligned because a call leaves the stack pointer at
 * 8 mod 16 and the jump reserves 0x38 bytes below the return address.
 */
#ifndef COSPACE_SRC_CONTEXT_X86_64_FRAME_H
#define COSPACE_SRC_CONTEXT_X86_64_FRAME_H

#define COSPACE_X86_64_FRAME_MXCSR 0x00
#define COSPACE_X86_64_FRAME_X87CW 0x04
#define COSPACE_X86_64_FRAME_R12 0x08
#define COSPACE_X86_64_FRAME_R13 0x10
#define COSPACE_X86_64_FRAME_R14 0x18
#define COSPACE_X86_64_FRAME_R15 0x20
#define COSPACE_X86_64_FRAME_RBX 0x28
#define COSPACE_X86_64_FRAME_RBP 0x30
#define COSPACE_X86_64_FRAME_RIP 0x38
#define COSPACE_X86_64_FRAME_SIZE 0x40

#endif
