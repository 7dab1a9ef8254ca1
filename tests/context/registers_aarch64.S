/* Test helpers: drive cospace_context_jump with every callee-saved register
 * of AAPCS64 holding a known pattern: x19-x28, x29 and d8-d15 (the low 64
 * bits of v8-v15). x30 and sp are covered by the jump returning at all.
 *
 * cospace_transfer cospace_test_jump_with_patterns(cospace_context to, void* data,
 *                                                  const uint64_t patterns[19], uint64_t observed[19])
 *   Loads patterns into x19, x20, ..., x28, x29, d8, d9, ..., d15 (in that
 *   order: patterns[0] is x19, patterns[10] is x29, patterns[11] is d8),
 *   jumps, and when resumed stores the same registers into observed before
 *   restoring its caller's values.
 * cospace_transfer cospace_test_jump_clobbering(cospace_context to, void* data)
 *   Fills the same registers with garbage, then jumps (and restores them on return).
 */
	.text
	.globl	cospace_test_callee_saved_count
	.section .rodata
	.p2align 2
cospace_test_callee_saved_count:
	.long	19
	.text

/* Saves (and describes to the unwinder) the caller's x19-x28 and d8-d15 in
 * the frame at sp, whose x29/x30 pair sits at sp + 0. */
.macro SAVE_CALLEE_SAVED_FOR_TEST
	stp	x19, x20, [sp, #0x10]
	stp	x21, x22, [sp, #0x20]
	stp	x23, x24, [sp, #0x30]
	stp	x25, x26, [sp, #0x40]
	stp	x27, x28, [sp, #0x50]
	stp	d8, d9, [sp, #0x60]
	stp	d10, d11, [sp, #0x70]
	stp	d12, d13, [sp, #0x80]
	stp	d14, d15, [sp, #0x90]
	.cfi_rel_offset x19, 0x10
	.cfi_rel_offset x20, 0x18
	.cfi_rel_offset x21, 0x20
	.cfi_rel_offset x22, 0x28
	.cfi_rel_offset x23, 0x30
	.cfi_rel_offset x24, 0x38
	.cfi_rel_offset x25, 0x40
	.cfi_rel_offset x26, 0x48
	.cfi_rel_offset x27, 0x50
	.cfi_rel_offset x28, 0x58
	.cfi_rel_offset d8, 0x60
	.cfi_rel_offset d9, 0x68
	.cfi_rel_offset d10, 0x70
	.cfi_rel_offset d11, 0x78
	.cfi_rel_offset d12, 0x80
	.cfi_rel_offset d13, 0x88
	.cfi_rel_offset d14, 0x90
	.cfi_rel_offset d15, 0x98
.endm

.macro RESTORE_CALLEE_SAVED_FOR_TEST
	ldp	x19, x20, [sp, #0x10]
	ldp	x21, x22, [sp, #0x20]
	ldp	x23, x24, [sp, #0x30]
	ldp	x25, x26, [sp, #0x40]
	ldp	x27, x28, [sp, #0x50]
	ldp	d8, d9, [sp, #0x60]
	ldp	d10, d11, [sp, #0x70]
	ldp	d12, d13, [sp, #0x80]
	ldp	d14, d15, [sp, #0x90]
.endm

	.globl	cospace_test_jump_with_patterns
	.type	cospace_test_jump_with_patterns, %function
	.p2align 2
cospace_test_jump_with_patterns:
	.cfi_startproc
	bti	c
	stp	x29, x30, [sp, #-0xb0]!
	.cfi_def_cfa_offset 0xb0
	.cfi_rel_offset x29, 0
	.cfi_rel_offset x30, 8
	SAVE_CALLEE_SAVED_FOR_TEST
	str	x3, [sp, #0xa0]		/* observed */
	ldp	x19, x20, [x2, #0]
	ldp	x21, x22, [x2, #16]
	ldp	x23, x24, [x2, #32]
	ldp	x25, x26, [x2, #48]
	ldp	x27, x28, [x2, #64]
	ldr	x29, [x2, #80]
	ldp	d8, d9, [x2, #88]
	ldp	d10, d11, [x2, #104]
	ldp	d12, d13, [x2, #120]
	ldp	d14, d15, [x2, #136]
	bl	cospace_context_jump	/* x0:x1 = its transfer, returned untouched */
	ldr	x9, [sp, #0xa0]
	stp	x19, x20, [x9, #0]
	stp	x21, x22, [x9, #16]
	stp	x23, x24, [x9, #32]
	stp	x25, x26, [x9, #48]
	stp	x27, x28, [x9, #64]
	str	x29, [x9, #80]
	stp	d8, d9, [x9, #88]
	stp	d10, d11, [x9, #104]
	stp	d12, d13, [x9, #120]
	stp	d14, d15, [x9, #136]
	RESTORE_CALLEE_SAVED_FOR_TEST
	ldp	x29, x30, [sp], #0xb0
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	cospace_test_jump_with_patterns, .-cospace_test_jump_with_patterns

	.globl	cospace_test_jump_clobbering
	.type	cospace_test_jump_clobbering, %function
	.p2align 2
cospace_test_jump_clobbering:
	.cfi_startproc
	bti	c
	stp	x29, x30, [sp, #-0xa0]!
	.cfi_def_cfa_offset 0xa0
	.cfi_rel_offset x29, 0
	.cfi_rel_offset x30, 8
	SAVE_CALLEE_SAVED_FOR_TEST
	movz	x9, #0xbadb, lsl #48	/* x9 = 0xbadbadbadbad0000 */
	movk	x9, #0xadba, lsl #32
	movk	x9, #0xdbad, lsl #16
	add	x19, x9, #1
	add	x20, x9, #2
	add	x21, x9, #3
	add	x22, x9, #4
	add	x23, x9, #5
	add	x24, x9, #6
	add	x25, x9, #7
	add	x26, x9, #8
	add	x27, x9, #9
	add	x28, x9, #10
	add	x29, x9, #11
	add	x10, x9, #12
	fmov	d8, x10
	add	x10, x9, #13
	fmov	d9, x10
	add	x10, x9, #14
	fmov	d10, x10
	add	x10, x9, #15
	fmov	d11, x10
	add	x10, x9, #16
	fmov	d12, x10
	add	x10, x9, #17
	fmov	d13, x10
	add	x10, x9, #18
	fmov	d14, x10
	add	x10, x9, #19
	fmov	d15, x10
	bl	cospace_context_jump
	RESTORE_CALLEE_SAVED_FOR_TEST
	ldp	x29, x30, [sp], #0xa0
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	cospace_test_jump_clobbering, .-cospace_test_jump_clobbering

	.section .note.GNU-stack,"",%progbits
