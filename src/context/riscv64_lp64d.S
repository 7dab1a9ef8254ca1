/* cospace context switch for RISC-V 64, LP64D calling convention (Linux).
 *
 * Contract (the same four verbs on every architecture; see include/cospace/context.h):
 *   cospace_asm_make(a0 = stack top, a1 = size, a2 = entry)  -> a0 = fresh handle
 *   cospace_asm_jump(a0 = to, a1 = data)                     -> a0 = from, a1 = data
 *   cospace_asm_ontop(a0 = to, a1 = data, a2 = fn)           -> a0 = from, a1 = data
 *   cospace_asm_stack_pointer()                               -> a0 = caller's sp
 * A cospace_transfer is two pointers (2 x XLEN), so it travels in a0:a1 both
 * as an argument and as a result.
 *
 * What is saved: exactly what the psABI preserves across calls. s0-s11, the
 * return address ra (as the resume address), sp (as the handle itself),
 * fs0-fs11 (64 bits each: LP64D's ABI_FLEN), and the dynamic rounding mode
 * frm. Not saved: every caller-saved register (t0-t6, a0-a7, ft0-ft11,
 * fa0-fa7: the jump is an ordinary call to the compiler, so they are dead
 * across it); the vector state (v0-v31, vl, vtype, vxrm, vxsat are not
 * preserved across calls, and vstart is zero at every call); the accrued
 * exception flags fflags; gp and tp (the psABI makes them unallocatable:
 * gp is the same for the whole program, and tp, the thread pointer, belongs
 * to the thread, so a context resumed on another thread must see that
 * thread's TLS).
 *
 * Floating-point control: the psABI does not list fcsr among the preserved
 * registers; it says fcsr "must have thread storage duration in accordance
 * with C11 section 7.6". C11 7.6 is the <fenv.h> model: a function call does
 * not alter its caller's control modes unless documented to (fesetround is),
 * while the status flags accumulate. A jump is an ordinary call from its
 * caller's side, so its caller must find the rounding mode as it left it,
 * even though another context ran (and perhaps set its own mode) in between:
 * frm therefore belongs to each context, like MXCSR's control bits on x86-64
 * and FPCR on AArch64, and fflags stays per thread, like FPSR on AArch64.
 * frm is stored on every switch but written only when it differs from the
 * incoming context's (a CSR write drains the pipeline on many cores, a read
 * does not). The outgoing value is still in a register when the two are
 * compared. With COSPACE_SHARED_FP_CONTROL defined, frm is left alone: all
 * contexts of a thread share it, as in Go and marl; the frame keeps its slot
 * so the layout never changes.
 *
 * The switch resumes through `jr t2`, never `ret`. The return-address stack
 * treats a jalr through ra (or t0) as a return and pops it, so `ret` would
 * mispredict on every switch: the stack holds the outgoing context's return
 * address. A jalr through any other register leaves it alone, and t2 (x7) in
 * particular is the one Zicfilp exempts from landing-pad checks (a
 * "software-guarded" jump), so the resume keeps working where landing pads
 * are enforced: a resume address, after a call, has no lpad. ra is restored
 * as well, so the resumed code finds it as an ordinary return leaves it and
 * ontop's fn returns through it.
 *
 * Stack of a suspended context (handle = frame, layout in riscv64_frame.h):
 *
 *    | caller frames ... |
 *    | ra resume address |  frame + 0xc8
 *    | s0 s11..s1        |
 *    | fs11..fs0         |
 *    | frm               |  frame + 0x00  <- handle
 *
 * Stack of a fresh context, as cospace_asm_make leaves it (top 16-aligned):
 *
 *    top  ->  (nothing above is touched)
 *    | ra = trampoline   |  top - 0x08   resume address
 *    | s0 = 0            |               ends frame-pointer walks
 *    | s11..s2 = 0       |
 *    | s1 = entry        |               the trampoline calls it
 *    | fs11..fs0 = 0     |
 *    | frm               |  top - 0xd0   the creator's rounding mode  <- handle
 *
 * Stack of a running context (entered through the trampoline):
 *
 *    top  ->  sp when the trampoline calls entry (16-aligned); the
 *             trampoline keeps no frame, its return address is in ra
 *    | entry's frame     |  saves ra = trampoline and s0 = 0 if it keeps a frame record
 *    | callee frames ... |
 *    |                   |  <- sp
 *
 * Register state when entry starts: a0:a1 = the first transfer {from, data},
 * sp = top, s0 = 0, ra = the return into the trampoline, s1 = entry and
 * s2-s11, fs0-fs11 = 0 (entry may use them: they are callee-saved), frm = the
 * creator's at make time, or what an ontop function left. The trampoline's CFI
 * marks ra undefined, so unwinders and gdb stop cleanly at the context's root.
 *
 * CFI: the jump describes where every register it saves sits in the frame.
 * Both sides of a switch use the identical layout at the same offsets from
 * sp, so one set of rules (CFA = sp + 0xd0, each register at its slot)
 * describes the outgoing context before sp moves and the incoming one after:
 * a debugger or profiler interrupting mid-switch unwinds into the right
 * context and sees the right callee-saved values.
 *
 * Stack discipline: the psABI forbids relying on anything below sp (there is
 * no red zone), so the jump moves sp down before storing and loads everything
 * before moving it up.
 *
 * Not supported: the control-flow-integrity extensions. Zicfilp (landing
 * pads) would need an lpad at each entry point and the
 * GNU_PROPERTY_RISCV_FEATURE_1_AND note; the resume jump is already a
 * software-guarded one. Zicfiss (shadow stacks) cannot work with one shadow
 * stack per thread, because a jump returns on a different stack than it was
 * called on; it would need one shadow stack per context (map_shadow_stack),
 * its pointer in the frame (growing it by 16 bytes), and a token-checked
 * ssp switch on every jump. This object carries no property note, so a
 * program linking it never runs with either enforced.
 */
#include "riscv64_frame.h"

#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__riscv_float_abi_double)
#error "riscv64_lp64d.S implements the RV64 LP64D calling convention only"
#endif

	.text

/* Stores the callee-saved state of the running context into the frame at sp,
 * then records where each register now lives. Leaves frm in t0 for
 * RESTORE_CALLEE_SAVED. */
.macro SAVE_CALLEE_SAVED
#ifndef COSPACE_SHARED_FP_CONTROL
	frrm	t0
	sd	t0, COSPACE_RISCV64_FRAME_FRM(sp)
#endif
	fsd	fs0, COSPACE_RISCV64_FRAME_FS0(sp)
	fsd	fs1, COSPACE_RISCV64_FRAME_FS1(sp)
	fsd	fs2, COSPACE_RISCV64_FRAME_FS2(sp)
	fsd	fs3, COSPACE_RISCV64_FRAME_FS3(sp)
	fsd	fs4, COSPACE_RISCV64_FRAME_FS4(sp)
	fsd	fs5, COSPACE_RISCV64_FRAME_FS5(sp)
	fsd	fs6, COSPACE_RISCV64_FRAME_FS6(sp)
	fsd	fs7, COSPACE_RISCV64_FRAME_FS7(sp)
	fsd	fs8, COSPACE_RISCV64_FRAME_FS8(sp)
	fsd	fs9, COSPACE_RISCV64_FRAME_FS9(sp)
	fsd	fs10, COSPACE_RISCV64_FRAME_FS10(sp)
	fsd	fs11, COSPACE_RISCV64_FRAME_FS11(sp)
	sd	s1, COSPACE_RISCV64_FRAME_S1(sp)
	sd	s2, COSPACE_RISCV64_FRAME_S2(sp)
	sd	s3, COSPACE_RISCV64_FRAME_S3(sp)
	sd	s4, COSPACE_RISCV64_FRAME_S4(sp)
	sd	s5, COSPACE_RISCV64_FRAME_S5(sp)
	sd	s6, COSPACE_RISCV64_FRAME_S6(sp)
	sd	s7, COSPACE_RISCV64_FRAME_S7(sp)
	sd	s8, COSPACE_RISCV64_FRAME_S8(sp)
	sd	s9, COSPACE_RISCV64_FRAME_S9(sp)
	sd	s10, COSPACE_RISCV64_FRAME_S10(sp)
	sd	s11, COSPACE_RISCV64_FRAME_S11(sp)
	sd	s0, COSPACE_RISCV64_FRAME_S0(sp)
	sd	ra, COSPACE_RISCV64_FRAME_RA(sp)
	.cfi_rel_offset fs0, COSPACE_RISCV64_FRAME_FS0
	.cfi_rel_offset fs1, COSPACE_RISCV64_FRAME_FS1
	.cfi_rel_offset fs2, COSPACE_RISCV64_FRAME_FS2
	.cfi_rel_offset fs3, COSPACE_RISCV64_FRAME_FS3
	.cfi_rel_offset fs4, COSPACE_RISCV64_FRAME_FS4
	.cfi_rel_offset fs5, COSPACE_RISCV64_FRAME_FS5
	.cfi_rel_offset fs6, COSPACE_RISCV64_FRAME_FS6
	.cfi_rel_offset fs7, COSPACE_RISCV64_FRAME_FS7
	.cfi_rel_offset fs8, COSPACE_RISCV64_FRAME_FS8
	.cfi_rel_offset fs9, COSPACE_RISCV64_FRAME_FS9
	.cfi_rel_offset fs10, COSPACE_RISCV64_FRAME_FS10
	.cfi_rel_offset fs11, COSPACE_RISCV64_FRAME_FS11
	.cfi_rel_offset s1, COSPACE_RISCV64_FRAME_S1
	.cfi_rel_offset s2, COSPACE_RISCV64_FRAME_S2
	.cfi_rel_offset s3, COSPACE_RISCV64_FRAME_S3
	.cfi_rel_offset s4, COSPACE_RISCV64_FRAME_S4
	.cfi_rel_offset s5, COSPACE_RISCV64_FRAME_S5
	.cfi_rel_offset s6, COSPACE_RISCV64_FRAME_S6
	.cfi_rel_offset s7, COSPACE_RISCV64_FRAME_S7
	.cfi_rel_offset s8, COSPACE_RISCV64_FRAME_S8
	.cfi_rel_offset s9, COSPACE_RISCV64_FRAME_S9
	.cfi_rel_offset s10, COSPACE_RISCV64_FRAME_S10
	.cfi_rel_offset s11, COSPACE_RISCV64_FRAME_S11
	.cfi_rel_offset s0, COSPACE_RISCV64_FRAME_S0
	.cfi_rel_offset ra, COSPACE_RISCV64_FRAME_RA
.endm

/* Loads the incoming context's state from the frame at sp; t0 holds the
 * outgoing context's frm, compared to avoid the write. */
.macro RESTORE_CALLEE_SAVED
#ifndef COSPACE_SHARED_FP_CONTROL
	ld	t1, COSPACE_RISCV64_FRAME_FRM(sp)
	bne	t1, t0, 1f
2:
#endif
	fld	fs0, COSPACE_RISCV64_FRAME_FS0(sp)
	fld	fs1, COSPACE_RISCV64_FRAME_FS1(sp)
	fld	fs2, COSPACE_RISCV64_FRAME_FS2(sp)
	fld	fs3, COSPACE_RISCV64_FRAME_FS3(sp)
	fld	fs4, COSPACE_RISCV64_FRAME_FS4(sp)
	fld	fs5, COSPACE_RISCV64_FRAME_FS5(sp)
	fld	fs6, COSPACE_RISCV64_FRAME_FS6(sp)
	fld	fs7, COSPACE_RISCV64_FRAME_FS7(sp)
	fld	fs8, COSPACE_RISCV64_FRAME_FS8(sp)
	fld	fs9, COSPACE_RISCV64_FRAME_FS9(sp)
	fld	fs10, COSPACE_RISCV64_FRAME_FS10(sp)
	fld	fs11, COSPACE_RISCV64_FRAME_FS11(sp)
	ld	s1, COSPACE_RISCV64_FRAME_S1(sp)
	ld	s2, COSPACE_RISCV64_FRAME_S2(sp)
	ld	s3, COSPACE_RISCV64_FRAME_S3(sp)
	ld	s4, COSPACE_RISCV64_FRAME_S4(sp)
	ld	s5, COSPACE_RISCV64_FRAME_S5(sp)
	ld	s6, COSPACE_RISCV64_FRAME_S6(sp)
	ld	s7, COSPACE_RISCV64_FRAME_S7(sp)
	ld	s8, COSPACE_RISCV64_FRAME_S8(sp)
	ld	s9, COSPACE_RISCV64_FRAME_S9(sp)
	ld	s10, COSPACE_RISCV64_FRAME_S10(sp)
	ld	s11, COSPACE_RISCV64_FRAME_S11(sp)
	ld	s0, COSPACE_RISCV64_FRAME_S0(sp)
	ld	ra, COSPACE_RISCV64_FRAME_RA(sp)
.endm

/* Releases the frame (sp back to the resumed context's call-site value) and
 * tells the unwinder that every register is in itself again. */
.macro RELEASE_FRAME
	addi	sp, sp, COSPACE_RISCV64_FRAME_SIZE
	.cfi_def_cfa_offset 0
	.cfi_restore fs0
	.cfi_restore fs1
	.cfi_restore fs2
	.cfi_restore fs3
	.cfi_restore fs4
	.cfi_restore fs5
	.cfi_restore fs6
	.cfi_restore fs7
	.cfi_restore fs8
	.cfi_restore fs9
	.cfi_restore fs10
	.cfi_restore fs11
	.cfi_restore s1
	.cfi_restore s2
	.cfi_restore s3
	.cfi_restore s4
	.cfi_restore s5
	.cfi_restore s6
	.cfi_restore s7
	.cfi_restore s8
	.cfi_restore s9
	.cfi_restore s10
	.cfi_restore s11
	.cfi_restore s0
	.cfi_restore ra
.endm

/* The out-of-line write for RESTORE_CALLEE_SAVED's rare path. */
.macro RELOAD_FP_CONTROL_SLOW_PATH
#ifndef COSPACE_SHARED_FP_CONTROL
1:
	fsrm	t1
	j	2b
#endif
.endm

/* cospace_transfer cospace_asm_jump(cospace_context to, void* data) */
	.globl	cospace_asm_jump
	.hidden	cospace_asm_jump
	.type	cospace_asm_jump, @function
	.p2align 2
cospace_asm_jump:
	.cfi_startproc
	addi	sp, sp, -COSPACE_RISCV64_FRAME_SIZE
	.cfi_def_cfa_offset COSPACE_RISCV64_FRAME_SIZE
	SAVE_CALLEE_SAVED
	mv	t3, sp			/* from = our frame */
	mv	sp, a0			/* the switch: from here on we run on `to` */
	RESTORE_CALLEE_SAVED
	ld	t2, COSPACE_RISCV64_FRAME_RA(sp)
	.cfi_remember_state
	RELEASE_FRAME
	mv	a0, t3			/* transfer = {a0: from, a1: data} */
	jr	t2
	.cfi_restore_state
	RELOAD_FP_CONTROL_SLOW_PATH
	.cfi_endproc
	.size	cospace_asm_jump, .-cospace_asm_jump

/* cospace_transfer cospace_asm_ontop(cospace_context to, void* data, cospace_ontop_function fn)
 * Restores `to` like a jump, but instead of returning to its resume address it
 * leaves that address in ra as fn's return address and tail-calls
 * fn({from, data}) there. fn's result comes back in a0:a1, exactly where the
 * resumed jump returns it (a fresh context's trampoline passes it to entry). */
	.globl	cospace_asm_ontop
	.hidden	cospace_asm_ontop
	.type	cospace_asm_ontop, @function
	.p2align 2
cospace_asm_ontop:
	.cfi_startproc
	addi	sp, sp, -COSPACE_RISCV64_FRAME_SIZE
	.cfi_def_cfa_offset COSPACE_RISCV64_FRAME_SIZE
	SAVE_CALLEE_SAVED
	mv	t3, sp
	mv	sp, a0
	RESTORE_CALLEE_SAVED
	.cfi_remember_state
	RELEASE_FRAME			/* ra = resume address = fn's return address */
	mv	a0, t3			/* fn's argument: {a0: from, a1: data} */
	jr	a2			/* fn is a function: a landing pad would be its first instruction */
	.cfi_restore_state
	RELOAD_FP_CONTROL_SLOW_PATH
	.cfi_endproc
	.size	cospace_asm_ontop, .-cospace_asm_ontop

/* cospace_context cospace_asm_make(void* top, size_t size, cospace_context_entry entry)
 * The caller has checked alignment and size; only [top - 0xd0, top) is written. */
	.globl	cospace_asm_make
	.hidden	cospace_asm_make
	.type	cospace_asm_make, @function
	.p2align 2
cospace_asm_make:
	.cfi_startproc
	addi	a0, a0, -COSPACE_RISCV64_FRAME_SIZE
	frrm	t0
	sd	t0, COSPACE_RISCV64_FRAME_FRM(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS0(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS1(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS2(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS3(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS4(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS5(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS6(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS7(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS8(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS9(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS10(a0)
	sd	zero, COSPACE_RISCV64_FRAME_FS11(a0)
	sd	a2, COSPACE_RISCV64_FRAME_S1(a0)	/* s1 = entry */
	sd	zero, COSPACE_RISCV64_FRAME_S2(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S3(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S4(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S5(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S6(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S7(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S8(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S9(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S10(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S11(a0)
	sd	zero, COSPACE_RISCV64_FRAME_S0(a0)	/* s0 = 0 ends frame-pointer walks */
	lla	t0, .Ltrampoline_resume
	sd	t0, COSPACE_RISCV64_FRAME_RA(a0)
	ret
	.cfi_endproc
	.size	cospace_asm_make, .-cospace_asm_make

/* The root of every fresh context. Entered by the first jump (or by ontop's
 * fn returning) just after the nop, with sp = top (16-aligned, as entry needs
 * it), a0:a1 = the first transfer and s1 = entry. ra is undefined here: this
 * is the outermost frame of the context.
 * The nop in front exists for unwinders: they look up a caller's CFI at its
 * return address minus one, and while an ontop fn runs on a fresh context its
 * return address is the instruction after the nop; the nop keeps the byte
 * before it inside this function's CFI instead of whatever precedes it. */
	.type	cospace_asm_trampoline, @function
	.p2align 2
cospace_asm_trampoline:
	.cfi_startproc
	.cfi_undefined ra
	nop
.Ltrampoline_resume:
	jalr	s1
	/* entry returned: a contract violation, reported and fatal. */
	call	cospace_context_entry_returned
	unimp
	.cfi_endproc
	.size	cospace_asm_trampoline, .-cospace_asm_trampoline

/* void* cospace_asm_stack_pointer(void): the caller's sp (a call does not move it). */
	.globl	cospace_asm_stack_pointer
	.hidden	cospace_asm_stack_pointer
	.type	cospace_asm_stack_pointer, @function
	.p2align 2
cospace_asm_stack_pointer:
	.cfi_startproc
	mv	a0, sp
	ret
	.cfi_endproc
	.size	cospace_asm_stack_pointer, .-cospace_asm_stack_pointer

	.section .note.GNU-stack,"",@progbits
