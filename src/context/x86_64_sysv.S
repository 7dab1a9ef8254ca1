/* cospace context switch for x86-64, System V ABI (Linux).
 *
 * Contract (the same four verbs on every architecture; see include/cospace/context.h):
 *   cospace_asm_make(rdi = stack top, rsi = size, rdx = entry)  -> rax = fresh handle
 *   cospace_asm_jump(rdi = to, rsi = data)                      -> rax = from, rdx = data
 *   cospace_asm_ontop(rdi = to, rsi = data, rdx = fn)           -> rax = from, rdx = data
 *   cospace_asm_stack_pointer()                                  -> rax = caller's rsp
 *
 * What is saved: exactly what the ABI makes callee-saved. rbx, rbp, r12-r15,
 * the stack pointer (as the handle itself), and the control bits of MXCSR and
 * the x87 control word. Not saved: every caller-saved register (the jump is an
 * ordinary call to the compiler, so they are dead across it), the x87 and SSE
 * status flags beyond what MXCSR carries, and the direction flag (the ABI
 * requires it clear at every call boundary).
 *
 * Floating-point control: MXCSR and the x87 CW are stored on every switch.
 * MXCSR is reloaded always; the x87 CW only when it differs from the
 * incoming context's. The costs are the processor's (measured on AMD Zen 4,
 * docs/benchmarks.md, "Where the asm switch's time goes"): stmxcsr alone costs
 * about 15 cycles and nothing else reads MXCSR, so it stays; comparing its
 * result would wait for it (+1.5 ns a switch), while ldmxcsr of the same
 * value costs about one cycle; fnstcw and the x87 compare cost next to
 * nothing. (On the Intel Xeon of the issue's reference figures ldmxcsr was
 * the dear one and stmxcsr cheap, where a compare-and-skip for MXCSR may win:
 * not measured here. On Zen 4 this file was 1.07-1.19x Boost's jump_fcontext
 * with it, 0.92-0.95x without.) Reloading MXCSR also
 * restores its status flags, which the ABI makes caller-saved: each context
 * sees its own. The reload and the compare come after the register loads.
 * With COSPACE_SHARED_FP_CONTROL defined, the control state is left alone:
 * all contexts of a thread share it, as in Go and marl; the frame keeps its
 * slot so the layout never changes.
 *
 * The switch returns through `jmp *%r8`, never `ret`: a cross-stack `ret`
 * mispredicts on every switch because the return stack buffer holds the
 * outgoing context's return address.
 *
 * Stack of a suspended context (handle = frame, layout in x86_64_frame.h):
 *
 *    | caller frames ... |
 *    | resume rip        |  frame + 0x38
 *    | rbp rbx r15..r12  |
 *    | x87 CW | MXCSR    |  frame + 0x00  <- handle
 *
 * Stack of a fresh context, as cospace_asm_make leaves it (top 16-aligned):
 *
 *    top  ->  (nothing above is touched)
 *    | trampoline        |  top - 0x08   resume address
 *    | rbp = 0           |               ends frame-pointer walks
 *    | rbx = entry       |               the trampoline calls it
 *    | r15..r12 = 0      |
 *    | x87 CW | MXCSR    |  top - 0x40   the creator's control state  <- handle
 *
 * Running context: the trampoline's return address sits at top - 0x08 and
 * entry's frames grow down from there; the trampoline's CFI marks rip
 * undefined, so unwinders and gdb stop cleanly at the context's root.
 *
 * CFI: both sides of a switch use the identical frame layout, so the CFA
 * rule (rsp + 0x40 after the reservation) describes the outgoing context
 * before the stack pointer moves and the incoming one after: a debugger or
 * profiler interrupting mid-switch still unwinds correctly.
 *
 * CET: every entry point starts with endbr64 and the object carries the
 * GNU property note for IBT. A resume jumps to a return site, which has no
 * endbr64, so that jump is `notrack` (exempt from the IBT check, as glibc's
 * longjmp does); ontop's jump to fn lands on fn's endbr64. Shadow stacks
 * (SHSTK) are NOT supported: a jump returns on a different stack than it was
 * called on, which a single per-thread shadow stack rejects, so the note
 * deliberately leaves the SHSTK bit clear (supporting it needs one shadow
 * stack per context, map_shadow_stack, and a restore-token switch).
 */
#include "x86_64_frame.h"

#define FRAME_RESERVE (COSPACE_X86_64_FRAME_SIZE - 8)

	.text

/* Stores the callee-saved state of the running context into the frame at %rsp. */
.macro SAVE_CALLEE_SAVED
#ifndef COSPACE_SHARED_FP_CONTROL
	stmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	fnstcw	COSPACE_X86_64_FRAME_X87CW(%rsp)
#endif
	movq	%r12, COSPACE_X86_64_FRAME_R12(%rsp)
	movq	%r13, COSPACE_X86_64_FRAME_R13(%rsp)
	movq	%r14, COSPACE_X86_64_FRAME_R14(%rsp)
	movq	%r15, COSPACE_X86_64_FRAME_R15(%rsp)
	movq	%rbx, COSPACE_X86_64_FRAME_RBX(%rsp)
	movq	%rbp, COSPACE_X86_64_FRAME_RBP(%rsp)
.endm

/* Loads the incoming context's state from the frame at %rsp; %rax holds the
 * outgoing frame, whose x87 control word is compared to avoid reloading it. */
.macro RESTORE_CALLEE_SAVED
	movq	COSPACE_X86_64_FRAME_R12(%rsp), %r12
	movq	COSPACE_X86_64_FRAME_R13(%rsp), %r13
	movq	COSPACE_X86_64_FRAME_R14(%rsp), %r14
	movq	COSPACE_X86_64_FRAME_R15(%rsp), %r15
	movq	COSPACE_X86_64_FRAME_RBX(%rsp), %rbx
	movq	COSPACE_X86_64_FRAME_RBP(%rsp), %rbp
#ifndef COSPACE_SHARED_FP_CONTROL
	ldmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rsp)
	movzwl	COSPACE_X86_64_FRAME_X87CW(%rsp), %ecx
	cmpw	COSPACE_X86_64_FRAME_X87CW(%rax), %cx
	jne	3f
4:
#endif
.endm

/* The out-of-line reload for RESTORE_CALLEE_SAVED's rare path. */
.macro RELOAD_FP_CONTROL_SLOW_PATH
#ifndef COSPACE_SHARED_FP_CONTROL
3:
	fldcw	COSPACE_X86_64_FRAME_X87CW(%rsp)
	jmp	4b
#endif
.endm

/* cospace_transfer cospace_asm_jump(cospace_context to, void* data) */
	.globl	cospace_asm_jump
	.hidden	cospace_asm_jump
	.type	cospace_asm_jump, @function
	.p2align 4
cospace_asm_jump:
	.cfi_startproc
	endbr64
	leaq	-FRAME_RESERVE(%rsp), %rsp
	.cfi_adjust_cfa_offset FRAME_RESERVE
	SAVE_CALLEE_SAVED
	movq	%rsp, %rax		/* from = our frame */
	movq	%rdi, %rsp		/* the switch: from here on we run on `to` */
	RESTORE_CALLEE_SAVED
	movq	COSPACE_X86_64_FRAME_RIP(%rsp), %r8
	leaq	COSPACE_X86_64_FRAME_SIZE(%rsp), %rsp
	.cfi_adjust_cfa_offset -COSPACE_X86_64_FRAME_SIZE
	movq	%rsi, %rdx		/* transfer = {rax: from, rdx: data} */
	notrack jmp *%r8		/* a return site has no endbr64: exempt from IBT */
	.cfi_adjust_cfa_offset COSPACE_X86_64_FRAME_SIZE
	RELOAD_FP_CONTROL_SLOW_PATH
	.cfi_endproc
	.size	cospace_asm_jump, .-cospace_asm_jump

/* cospace_transfer cospace_asm_ontop(cospace_context to, void* data, cospace_ontop_function fn)
 * Restores `to` like a jump, but instead of returning to its resume address it
 * leaves that address on the stack as fn's return address and tail-calls
 * fn({from, data}) there. fn's result comes back in rax:rdx, exactly where the
 * resumed jump returns it (a fresh context's trampoline passes it to entry). */
	.globl	cospace_asm_ontop
	.hidden	cospace_asm_ontop
	.type	cospace_asm_ontop, @function
	.p2align 4
cospace_asm_ontop:
	.cfi_startproc
	endbr64
	leaq	-FRAME_RESERVE(%rsp), %rsp
	.cfi_adjust_cfa_offset FRAME_RESERVE
	SAVE_CALLEE_SAVED
	movq	%rsp, %rax
	movq	%rdi, %rsp
	RESTORE_CALLEE_SAVED
	movq	%rdx, %r8		/* fn */
	leaq	COSPACE_X86_64_FRAME_RIP(%rsp), %rsp	/* resume address = fn's return address */
	.cfi_adjust_cfa_offset -(FRAME_RESERVE)
	movq	%rax, %rdi		/* fn's argument: {rdi: from, rsi: data} */
	jmp	*%r8
	.cfi_adjust_cfa_offset FRAME_RESERVE
	RELOAD_FP_CONTROL_SLOW_PATH
	.cfi_endproc
	.size	cospace_asm_ontop, .-cospace_asm_ontop

/* cospace_context cospace_asm_make(void* top, size_t size, cospace_context_entry entry)
 * The caller has checked alignment and size; only [top - 0x40, top) is written. */
	.globl	cospace_asm_make
	.hidden	cospace_asm_make
	.type	cospace_asm_make, @function
	.p2align 4
cospace_asm_make:
	.cfi_startproc
	endbr64
	leaq	-COSPACE_X86_64_FRAME_SIZE(%rdi), %rax
	stmxcsr	COSPACE_X86_64_FRAME_MXCSR(%rax)
	fnstcw	COSPACE_X86_64_FRAME_X87CW(%rax)
	movw	$0, COSPACE_X86_64_FRAME_X87CW+2(%rax)
	xorl	%ecx, %ecx
	movq	%rcx, COSPACE_X86_64_FRAME_R12(%rax)
	movq	%rcx, COSPACE_X86_64_FRAME_R13(%rax)
	movq	%rcx, COSPACE_X86_64_FRAME_R14(%rax)
	movq	%rcx, COSPACE_X86_64_FRAME_R15(%rax)
	movq	%rdx, COSPACE_X86_64_FRAME_RBX(%rax)
	movq	%rcx, COSPACE_X86_64_FRAME_RBP(%rax)
	leaq	.Ltrampoline_resume(%rip), %rcx
	movq	%rcx, COSPACE_X86_64_FRAME_RIP(%rax)
	ret
	.cfi_endproc
	.size	cospace_asm_make, .-cospace_asm_make

/* The root of every fresh context. Entered by the first jump (or ontop's fn
 * returning) with rsp = top (16-aligned), rax:rdx = the first transfer and
 * rbx = entry. Calling entry leaves rsp at 8 mod 16 in it, as the ABI wants.
 * rip is undefined here: this is the outermost frame of the context. */
	.type	cospace_asm_trampoline, @function
	.p2align 4
cospace_asm_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	/* An ontop function on a fresh context returns here, and unwinders look
	 * up its return address minus one: this nop keeps that byte inside the
	 * trampoline's frame information. */
	nop
.Ltrampoline_resume:
	endbr64
	movq	%rax, %rdi
	movq	%rdx, %rsi
	call	*%rbx
	/* entry returned: a contract violation, reported and fatal. */
	call	cospace_context_entry_returned
	hlt
	.cfi_endproc
	.size	cospace_asm_trampoline, .-cospace_asm_trampoline

/* void* cospace_asm_stack_pointer(void): the caller's rsp after our return. */
	.globl	cospace_asm_stack_pointer
	.hidden	cospace_asm_stack_pointer
	.type	cospace_asm_stack_pointer, @function
	.p2align 4
cospace_asm_stack_pointer:
	.cfi_startproc
	endbr64
	leaq	8(%rsp), %rax
	ret
	.cfi_endproc
	.size	cospace_asm_stack_pointer, .-cospace_asm_stack_pointer

	.section .note.GNU-stack,"",@progbits

/* GNU property note: this object is compatible with IBT (and only IBT). */
	.section .note.gnu.property,"a"
	.p2align 3
	.long	4			/* name size */
	.long	16			/* descriptor size */
	.long	5			/* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.long	0xc0000002		/* GNU_PROPERTY_X86_FEATURE_1_AND */
	.long	4
	.long	1			/* GNU_PROPERTY_X86_FEATURE_1_IBT */
	.p2align 3
