/* Diagnostic variants of cospace_asm_jump (x86-64 System V), for
 * switch_variants.cpp: each differs from the real switch in one thing, so that
 * timing them side by side shows what each part of the switch costs. They are
 * NOT the library's switch and are never linked into it.
 *
 * All variants use the library's frame layout (x86_64_frame.h), so contexts
 * are made with cospace_asm_make and a variant's jump resumes them exactly as
 * cospace_asm_jump would. A given ping-pong uses one variant on both sides.
 *
 * VARIANT name, save, restore, ending
 *   save:    bit 0 stmxcsr, bit 1 fnstcw (into the outgoing frame)
 *   restore: 0 nothing
 *            1 ldmxcsr + fldcw unconditionally (Boost's jump_fcontext)
 *            2 compare both with the outgoing frame, reload only on a
 *              difference (the library's switch)
 *            3 compare MXCSR only, reload it only on a difference
 *            4 ldmxcsr only, unconditionally
 *            5 fldcw only, unconditionally
 *            6 as 2, but the compares come after the register loads
 *            7 ldmxcsr unconditionally, x87 CW compared and reloaded on a difference
 *            8 as 7, but after the register loads
 *   ending:  0 jmp *%r8 (the library)   1 ret
 *
 * No CFI beyond the procedure bounds: these are for timing only.
 */
#include "context/x86_64_frame.h"

#define RESERVE (COSPACE_X86_64_FRAME_SIZE - 8)

	.text

/* The library's fast-path compares; %rax = outgoing frame, %rsp = incoming.
 * The slow paths (labels 1 and 3) are at the end of each variant. */
.macro COMPARE_MXCSR
	movl	COSPACE_X86_64_FRAME_MXCSR(%rsp), %ecx
	cmpl	COSPACE_X86_64_FRAME_MXCSR(%rax), %ecx
	jne	1f
2:
.endm

.macro COMPARE_X87CW
	movzwl	COSPACE_X86_64_FRAME_X87CW(%rsp), %ecx
	cmpw	COSPACE_X86_64_FRAME_X87CW(%rax), %cx
	jne	3f
4:
.endm

.macro VARIANT name, save, restore, ending
	.globl	\name
	.hidden	\name
	.type	\name, @function
	.p2align 4
\name:
	.cfi_startproc
	endbr64
	leaq	-RESERVE(%rsp), %rsp
	.if (\save & 1)
	stmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	.endif
	.if (\save & 2)
	fnstcw	COSPACE_X86_64_FRAME_X87CW(%rsp)
	.endif
	movq	%r12, COSPACE_X86_64_FRAME_R12(%rsp)
	movq	%r13, COSPACE_X86_64_FRAME_R13(%rsp)
	movq	%r14, COSPACE_X86_64_FRAME_R14(%rsp)
	movq	%r15, COSPACE_X86_64_FRAME_R15(%rsp)
	movq	%rbx, COSPACE_X86_64_FRAME_RBX(%rsp)
	movq	%rbp, COSPACE_X86_64_FRAME_RBP(%rsp)
	movq	%rsp, %rax
	movq	%rdi, %rsp
	.if (\restore == 1)
	ldmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	fldcw	COSPACE_X86_64_FRAME_X87CW(%rsp)
	.endif
	.if (\restore == 2) || (\restore == 3)
	COMPARE_MXCSR
	.endif
	.if (\restore == 2) || (\restore == 7)
	COMPARE_X87CW
	.endif
	.if (\restore == 4) || (\restore == 7)
	ldmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	.endif
	.if (\restore == 5)
	fldcw	COSPACE_X86_64_FRAME_X87CW(%rsp)
	.endif
	movq	COSPACE_X86_64_FRAME_R12(%rsp), %r12
	movq	COSPACE_X86_64_FRAME_R13(%rsp), %r13
	movq	COSPACE_X86_64_FRAME_R14(%rsp), %r14
	movq	COSPACE_X86_64_FRAME_R15(%rsp), %r15
	movq	COSPACE_X86_64_FRAME_RBX(%rsp), %rbx
	movq	COSPACE_X86_64_FRAME_RBP(%rsp), %rbp
	.if (\restore == 6)
	COMPARE_MXCSR
	COMPARE_X87CW
	.endif
	.if (\restore == 8)
	ldmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	COMPARE_X87CW
	.endif
	movq	%rsi, %rdx
	.if (\ending == 0)
	movq	COSPACE_X86_64_FRAME_RIP(%rsp), %r8
	leaq	COSPACE_X86_64_FRAME_SIZE(%rsp), %rsp
	jmp	*%r8
	.else
	leaq	COSPACE_X86_64_FRAME_RIP(%rsp), %rsp
	ret
	.endif
	.if (\restore == 2) || (\restore == 3) || (\restore == 6)
1:
	ldmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	jmp	2b
	.endif
	.if (\restore == 2) || (\restore == 6) || (\restore == 7) || (\restore == 8)
3:
	fldcw	COSPACE_X86_64_FRAME_X87CW(%rsp)
	jmp	4b
	.endif
	.cfi_endproc
	.size	\name, .-\name
.endm

/* cospace_transfer name(cospace_context to, void* data) */
	VARIANT	cospace_variant_none,            0, 0, 0
	VARIANT	cospace_variant_none_ret,        0, 0, 1
	VARIANT	cospace_variant_stmxcsr,         1, 0, 0
	VARIANT	cospace_variant_fnstcw,          2, 0, 0
	VARIANT	cospace_variant_store_both,      3, 0, 0
	VARIANT	cospace_variant_compare,         3, 2, 0
	VARIANT	cospace_variant_compare_ret,     3, 2, 1
	VARIANT	cospace_variant_compare_mxcsr,   1, 3, 0
	VARIANT	cospace_variant_reload,          3, 1, 0
	VARIANT	cospace_variant_reload_mxcsr,    1, 4, 0
	VARIANT	cospace_variant_reload_x87,      2, 5, 0
	VARIANT	cospace_variant_compare_late,    3, 6, 0
	VARIANT	cospace_variant_reload_mxcsr_compare_x87, 3, 7, 0
	VARIANT	cospace_variant_reload_mxcsr_compare_x87_late, 3, 8, 0

	.section .note.GNU-stack,"",@progbits

	.section .note.gnu.property,"a"
	.p2align 3
	.long	4
	.long	16
	.long	5
	.asciz	"GNU"
	.long	0xc0000002
	.long	4
	.long	1
	.p2align 3
