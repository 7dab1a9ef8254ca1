/* cospace context switch for AArch64, AAPCS64 (Linux).
 *
 * Contract (the same four verbs on every architecture; see include/cospace/context.h):
 *   cospace_asm_make(x0 = stack top, x1 = size, x2 = entry)  -> x0 = fresh handle
 *   cospace_asm_jump(x0 = to, x1 = data)                     -> x0 = from, x1 = data
 *   cospace_asm_ontop(x0 = to, x1 = data, x2 = fn)           -> x0 = from, x1 = data
 *   cospace_asm_stack_pointer()                               -> x0 = caller's sp
 * A cospace_transfer is two pointers, so it travels in x0:x1 both as an
 * argument and as a result.
 *
 * What is saved: exactly what the ABI makes callee-saved. x19-x28, the frame
 * pointer x29, the link register x30 (as the resume address), sp (as the
 * handle itself), d8-d15 (the low 64 bits of v8-v15: AAPCS64 leaves the upper
 * halves to the caller), and FPCR. Not saved: every caller-saved register
 * (x0-x17, v0-v7 and v16-v31, the upper halves of v8-v15, the SVE z, p and
 * FFR state, the NZCV flags: the jump is an ordinary call to the compiler, so
 * they are dead across it); FPSR (cumulative exception flags, which AAPCS64
 * says are not preserved across a public interface); x18 (the platform
 * register, a temporary on Linux); TPIDR_EL0 (the thread pointer belongs to
 * the thread: a context resumed on another thread must see that thread's TLS).
 *
 * Floating-point control: AAPCS64 calls FPCR a global register whose
 * rounding, trap-enable and flush-to-zero bits only "specific support
 * functions" (fesetround and friends) change. A jump is not one of them, so
 * its caller must find FPCR as it left it, even though another context ran
 * (and perhaps set its own mode) in between: FPCR therefore belongs to each
 * context, like MXCSR's control bits on x86-64. It is stored on every switch
 * but written only when it differs from the incoming context's (msr fpcr is
 * serialising on many cores, mrs is not). The outgoing value is still in a
 * register when the two are compared, so the comparison costs one load. With
 * COSPACE_SHARED_FP_CONTROL defined, FPCR is left alone: all contexts of a
 * thread share it, as in Go and marl; the frame keeps its slot so the layout
 * never changes.
 *
 * The switch resumes with `ret`, restoring x30 first. x86-64 resumes with an
 * indirect jump to keep the return-stack predictor out of it; here that is
 * not an option: a resume address is the instruction after a bl, which is
 * not a BTI landing pad, so `br` to it faults when the caller's page is
 * guarded. ret is never checked by BTI. The price is one return-stack
 * mispredict per switch (the predictor expects the outgoing caller). It is
 * x30 rather than another register because x30 must hold the resume address
 * anyway: ontop's fn returns through it, and a resumed caller finds the link
 * register as an ordinary return leaves it.
 *
 * Stack of a suspended context (handle = frame, layout in aarch64_frame.h):
 *
 *    | caller frames ... |
 *    | x30 resume addr   |  frame + 0xa8
 *    | x29 x28..x19      |
 *    | d15..d8           |
 *    | unused | FPCR     |  frame + 0x00  <- handle
 *
 * Stack of a fresh context, as cospace_asm_make leaves it (top 16-aligned):
 *
 *    top  ->  (nothing above is touched)
 *    | x30 = trampoline  |  top - 0x08   resume address
 *    | x29 = 0           |               ends frame-record walks
 *    | x28..x20 = 0      |
 *    | x19 = entry       |               the trampoline calls it
 *    | d15..d8 = 0       |
 *    | unused | FPCR     |  top - 0xb0   the creator's FPCR  <- handle
 *
 * Stack of a running context (entered through the trampoline):
 *
 *    top  ->  sp when the trampoline calls entry (16-aligned); the
 *             trampoline keeps no frame, its return address is in x30
 *    | entry's frame     |  its frame record holds {x29 = 0, x30 = trampoline}
 *    | callee frames ... |
 *    |                   |  <- sp
 *
 * Register state when entry starts: x0:x1 = the first transfer {from, data},
 * sp = top, x29 = 0, x30 = the return into the trampoline, x19 = entry and
 * x20-x28, d8-d15 = 0 (entry may use them: they are callee-saved), FPCR = the
 * creator's at make time, or what an ontop function left. The trampoline's CFI
 * marks x30 undefined, so unwinders and gdb stop cleanly at the context's root.
 *
 * CFI: the jump describes where every register it saves sits in the frame.
 * Both sides of a switch use the identical layout at the same offsets from
 * sp, so one set of rules (CFA = sp + 0xb0, each register at its slot)
 * describes the outgoing context before sp moves and the incoming one after:
 * a debugger or profiler interrupting mid-switch unwinds into the right
 * context and sees the right callee-saved values.
 *
 * Stack discipline: AArch64 Linux has no red zone (a signal frame may land
 * right below sp), so the jump moves sp down before storing and loads
 * everything before moving it up; nothing it needs is ever below sp.
 *
 * BTI: every entry point starts with `bti c` and the object carries the GNU
 * property note for BTI (the library's C++ is built with
 * -mbranch-protection=bti). ontop reaches fn with `br x16`, which a `bti c`
 * landing pad accepts. The trampoline has no landing pad on purpose: it is
 * only ever reached by ret.
 *
 * Not supported:
 *  - Pointer authentication of the saved x30. C++ built with
 *    -mbranch-protection=pac-ret is unaffected (it signs the return addresses
 *    in its own frames, with its own sp as modifier, and every context keeps
 *    its sp), but the resume address in a suspended frame is a plain pointer
 *    in writable memory. Signing it would take paciasp before the save (the
 *    modifier is the caller's sp, which is also the sp the context resumes
 *    with), autiasp after the restore, pacia1716 in make (the trampoline
 *    address signed with the stack top), .cfi_negate_ra_state around the
 *    signed stretch, and the PAC bit in the property note.
 *  - GCS (guarded control stacks). A jump returns on a different stack than
 *    it was called on, so ret would not match the thread's single GCS; the
 *    note leaves the GCS bit clear, so a program linking this never runs
 *    with GCS enforced. Supporting it needs one GCS per context
 *    (map_shadow_stack), its pointer in the frame (the unused slot), the
 *    GCSSS1/GCSSS2 stack switch on every jump, and a cap token that make
 *    places on a fresh context's GCS.
 *  - SME. Contexts must be switched outside streaming mode and with ZA off:
 *    TPIDR2_EL0 is not switched, so a lazy ZA save pending in one context
 *    could be committed or restored by another.
 *  - ShadowCallStack (-ffixed-x18): x18 is not switched.
 */
#include "aarch64_frame.h"

#if !defined(__aarch64__) || defined(__ILP32__)
#error "aarch64_aapcs64.S implements the LP64 AAPCS64 only"
#endif

	.text

/* Stores the callee-saved state of the running context into the frame at sp,
 * then records where each register now lives. Leaves FPCR in x9 for
 * RESTORE_CALLEE_SAVED. */
.macro SAVE_CALLEE_SAVED
#ifndef COSPACE_SHARED_FP_CONTROL
	mrs	x9, fpcr
	str	x9, [sp, #COSPACE_AARCH64_FRAME_FPCR]
#endif
	stp	d8, d9, [sp, #COSPACE_AARCH64_FRAME_D8]
	stp	d10, d11, [sp, #COSPACE_AARCH64_FRAME_D10]
	stp	d12, d13, [sp, #COSPACE_AARCH64_FRAME_D12]
	stp	d14, d15, [sp, #COSPACE_AARCH64_FRAME_D14]
	stp	x19, x20, [sp, #COSPACE_AARCH64_FRAME_X19]
	stp	x21, x22, [sp, #COSPACE_AARCH64_FRAME_X21]
	stp	x23, x24, [sp, #COSPACE_AARCH64_FRAME_X23]
	stp	x25, x26, [sp, #COSPACE_AARCH64_FRAME_X25]
	stp	x27, x28, [sp, #COSPACE_AARCH64_FRAME_X27]
	stp	x29, x30, [sp, #COSPACE_AARCH64_FRAME_X29]
	.cfi_rel_offset d8, COSPACE_AARCH64_FRAME_D8
	.cfi_rel_offset d9, COSPACE_AARCH64_FRAME_D9
	.cfi_rel_offset d10, COSPACE_AARCH64_FRAME_D10
	.cfi_rel_offset d11, COSPACE_AARCH64_FRAME_D11
	.cfi_rel_offset d12, COSPACE_AARCH64_FRAME_D12
	.cfi_rel_offset d13, COSPACE_AARCH64_FRAME_D13
	.cfi_rel_offset d14, COSPACE_AARCH64_FRAME_D14
	.cfi_rel_offset d15, COSPACE_AARCH64_FRAME_D15
	.cfi_rel_offset x19, COSPACE_AARCH64_FRAME_X19
	.cfi_rel_offset x20, COSPACE_AARCH64_FRAME_X20
	.cfi_rel_offset x21, COSPACE_AARCH64_FRAME_X21
	.cfi_rel_offset x22, COSPACE_AARCH64_FRAME_X22
	.cfi_rel_offset x23, COSPACE_AARCH64_FRAME_X23
	.cfi_rel_offset x24, COSPACE_AARCH64_FRAME_X24
	.cfi_rel_offset x25, COSPACE_AARCH64_FRAME_X25
	.cfi_rel_offset x26, COSPACE_AARCH64_FRAME_X26
	.cfi_rel_offset x27, COSPACE_AARCH64_FRAME_X27
	.cfi_rel_offset x28, COSPACE_AARCH64_FRAME_X28
	.cfi_rel_offset x29, COSPACE_AARCH64_FRAME_X29
	.cfi_rel_offset x30, COSPACE_AARCH64_FRAME_X30
.endm

/* Loads the incoming context's state from the frame at sp; x9 holds the
 * outgoing context's FPCR, compared to avoid the write. */
.macro RESTORE_CALLEE_SAVED
#ifndef COSPACE_SHARED_FP_CONTROL
	ldr	x10, [sp, #COSPACE_AARCH64_FRAME_FPCR]
	cmp	x10, x9
	b.ne	1f
2:
#endif
	ldp	d8, d9, [sp, #COSPACE_AARCH64_FRAME_D8]
	ldp	d10, d11, [sp, #COSPACE_AARCH64_FRAME_D10]
	ldp	d12, d13, [sp, #COSPACE_AARCH64_FRAME_D12]
	ldp	d14, d15, [sp, #COSPACE_AARCH64_FRAME_D14]
	ldp	x19, x20, [sp, #COSPACE_AARCH64_FRAME_X19]
	ldp	x21, x22, [sp, #COSPACE_AARCH64_FRAME_X21]
	ldp	x23, x24, [sp, #COSPACE_AARCH64_FRAME_X23]
	ldp	x25, x26, [sp, #COSPACE_AARCH64_FRAME_X25]
	ldp	x27, x28, [sp, #COSPACE_AARCH64_FRAME_X27]
	ldp	x29, x30, [sp, #COSPACE_AARCH64_FRAME_X29]
.endm

/* Releases the frame (sp back to the resumed context's call-site value) and
 * tells the unwinder that every register is in itself again. */
.macro RELEASE_FRAME
	add	sp, sp, #COSPACE_AARCH64_FRAME_SIZE
	.cfi_def_cfa_offset 0
	.cfi_restore d8
	.cfi_restore d9
	.cfi_restore d10
	.cfi_restore d11
	.cfi_restore d12
	.cfi_restore d13
	.cfi_restore d14
	.cfi_restore d15
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore x29
	.cfi_restore x30
.endm

/* The out-of-line write for RESTORE_CALLEE_SAVED's rare path. */
.macro RELOAD_FP_CONTROL_SLOW_PATH
#ifndef COSPACE_SHARED_FP_CONTROL
1:
	msr	fpcr, x10
	b	2b
#endif
.endm

/* cospace_transfer cospace_asm_jump(cospace_context to, void* data) */
	.globl	cospace_asm_jump
	.hidden	cospace_asm_jump
	.type	cospace_asm_jump, %function
	.p2align 4
cospace_asm_jump:
	.cfi_startproc
	bti	c
	sub	sp, sp, #COSPACE_AARCH64_FRAME_SIZE
	.cfi_def_cfa_offset COSPACE_AARCH64_FRAME_SIZE
	SAVE_CALLEE_SAVED
	mov	x11, sp			/* from = our frame */
	mov	sp, x0			/* the switch: from here on we run on `to` */
	RESTORE_CALLEE_SAVED
	.cfi_remember_state
	RELEASE_FRAME
	mov	x0, x11			/* transfer = {x0: from, x1: data} */
	ret
	.cfi_restore_state
	RELOAD_FP_CONTROL_SLOW_PATH
	.cfi_endproc
	.size	cospace_asm_jump, .-cospace_asm_jump

/* cospace_transfer cospace_asm_ontop(cospace_context to, void* data, cospace_ontop_function fn)
 * Restores `to` like a jump, but instead of returning to its resume address it
 * leaves that address in x30 as fn's return address and tail-calls
 * fn({from, data}) there. fn's result comes back in x0:x1, exactly where the
 * resumed jump returns it (a fresh context's trampoline passes it to entry). */
	.globl	cospace_asm_ontop
	.hidden	cospace_asm_ontop
	.type	cospace_asm_ontop, %function
	.p2align 4
cospace_asm_ontop:
	.cfi_startproc
	bti	c
	sub	sp, sp, #COSPACE_AARCH64_FRAME_SIZE
	.cfi_def_cfa_offset COSPACE_AARCH64_FRAME_SIZE
	SAVE_CALLEE_SAVED
	mov	x11, sp
	mov	sp, x0
	RESTORE_CALLEE_SAVED
	.cfi_remember_state
	RELEASE_FRAME			/* x30 = resume address = fn's return address */
	mov	x16, x2			/* fn, through x16 so that its `bti c` accepts the br */
	mov	x0, x11			/* fn's argument: {x0: from, x1: data} */
	br	x16
	.cfi_restore_state
	RELOAD_FP_CONTROL_SLOW_PATH
	.cfi_endproc
	.size	cospace_asm_ontop, .-cospace_asm_ontop

/* cospace_context cospace_asm_make(void* top, size_t size, cospace_context_entry entry)
 * The caller has checked alignment and size; only [top - 0xb0, top) is written. */
	.globl	cospace_asm_make
	.hidden	cospace_asm_make
	.type	cospace_asm_make, %function
	.p2align 4
cospace_asm_make:
	.cfi_startproc
	bti	c
	sub	x0, x0, #COSPACE_AARCH64_FRAME_SIZE
	mrs	x9, fpcr
	stp	x9, xzr, [x0, #COSPACE_AARCH64_FRAME_FPCR]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_D8]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_D10]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_D12]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_D14]
	stp	x2, xzr, [x0, #COSPACE_AARCH64_FRAME_X19]	/* x19 = entry */
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_X21]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_X23]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_X25]
	stp	xzr, xzr, [x0, #COSPACE_AARCH64_FRAME_X27]
	adr	x9, .Ltrampoline_resume
	stp	xzr, x9, [x0, #COSPACE_AARCH64_FRAME_X29]	/* x29 = 0, x30 = trampoline */
	ret
	.cfi_endproc
	.size	cospace_asm_make, .-cospace_asm_make

/* The root of every fresh context. Entered by the first jump's ret (or by
 * ontop's fn returning) just after the nop, with sp = top
 * (16-aligned, as entry needs it), x0:x1 = the first transfer and x19 = entry.
 * x30 is undefined here: this is the outermost frame of the context.
 * The nop in front exists for unwinders: they look up a caller's CFI at its
 * return address minus one, and while an ontop fn runs on a fresh context its
 * return address is the instruction after the nop; the nop keeps the byte
 * before it inside this function's CFI instead of whatever precedes it. */
	.type	cospace_asm_trampoline, %function
	.p2align 4
cospace_asm_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	nop
.Ltrampoline_resume:
	blr	x19
	/* entry returned: a contract violation, reported and fatal. */
	bl	cospace_context_entry_returned
	brk	#0
	.cfi_endproc
	.size	cospace_asm_trampoline, .-cospace_asm_trampoline

/* void* cospace_asm_stack_pointer(void): the caller's sp (a bl does not move it). */
	.globl	cospace_asm_stack_pointer
	.hidden	cospace_asm_stack_pointer
	.type	cospace_asm_stack_pointer, %function
	.p2align 4
cospace_asm_stack_pointer:
	.cfi_startproc
	bti	c
	mov	x0, sp
	ret
	.cfi_endproc
	.size	cospace_asm_stack_pointer, .-cospace_asm_stack_pointer

	.section .note.GNU-stack,"",%progbits

/* GNU property note: this object is compatible with BTI (and only BTI). */
	.section .note.gnu.property,"a"
	.p2align 3
	.long	4			/* name size */
	.long	16			/* descriptor size */
	.long	5			/* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.long	0xc0000000		/* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.long	4
	.long	1			/* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
	.p2align 3
