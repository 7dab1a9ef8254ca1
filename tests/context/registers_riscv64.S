/* Test helpers: drive cospace_context_jump with every callee-saved register
 * of the RISC-V LP64D calling convention holding a known pattern: s0-s11 and
 * fs0-fs11 (64 bits each). ra and sp are covered by the jump returning at all.
 *
 * cospace_transfer cospace_test_jump_with_patterns(cospace_context to, void* data,
 *                                                  const uint64_t patterns[24], uint64_t observed[24])
 *   Loads patterns into s0, s1, ..., s11, fs0, fs1, ..., fs11 (in that order:
 *   patterns[0] is s0, patterns[12] is fs0), jumps, and when resumed stores
 *   the same registers into observed before restoring its caller's values.
 * cospace_transfer cospace_test_jump_clobbering(cospace_context to, void* data)
 *   Fills the same registers with garbage, then jumps (and restores them on return).
 */
	.text
	.globl	cospace_test_callee_saved_count
	.section .rodata
	.p2align 2
cospace_test_callee_saved_count:
	.long	24
	.text

/* The helpers' own frame (0xd0 bytes): ra at sp + 0, s0-s11 from sp + 0x08,
 * fs0-fs11 from sp + 0x68, the observed pointer at sp + 0xc8. */
.macro SAVE_CALLEE_SAVED_FOR_TEST
	sd	ra, 0x00(sp)
	sd	s0, 0x08(sp)
	sd	s1, 0x10(sp)
	sd	s2, 0x18(sp)
	sd	s3, 0x20(sp)
	sd	s4, 0x28(sp)
	sd	s5, 0x30(sp)
	sd	s6, 0x38(sp)
	sd	s7, 0x40(sp)
	sd	s8, 0x48(sp)
	sd	s9, 0x50(sp)
	sd	s10, 0x58(sp)
	sd	s11, 0x60(sp)
	fsd	fs0, 0x68(sp)
	fsd	fs1, 0x70(sp)
	fsd	fs2, 0x78(sp)
	fsd	fs3, 0x80(sp)
	fsd	fs4, 0x88(sp)
	fsd	fs5, 0x90(sp)
	fsd	fs6, 0x98(sp)
	fsd	fs7, 0xa0(sp)
	fsd	fs8, 0xa8(sp)
	fsd	fs9, 0xb0(sp)
	fsd	fs10, 0xb8(sp)
	fsd	fs11, 0xc0(sp)
	.cfi_rel_offset ra, 0x00
	.cfi_rel_offset s0, 0x08
	.cfi_rel_offset s1, 0x10
	.cfi_rel_offset s2, 0x18
	.cfi_rel_offset s3, 0x20
	.cfi_rel_offset s4, 0x28
	.cfi_rel_offset s5, 0x30
	.cfi_rel_offset s6, 0x38
	.cfi_rel_offset s7, 0x40
	.cfi_rel_offset s8, 0x48
	.cfi_rel_offset s9, 0x50
	.cfi_rel_offset s10, 0x58
	.cfi_rel_offset s11, 0x60
	.cfi_rel_offset fs0, 0x68
	.cfi_rel_offset fs1, 0x70
	.cfi_rel_offset fs2, 0x78
	.cfi_rel_offset fs3, 0x80
	.cfi_rel_offset fs4, 0x88
	.cfi_rel_offset fs5, 0x90
	.cfi_rel_offset fs6, 0x98
	.cfi_rel_offset fs7, 0xa0
	.cfi_rel_offset fs8, 0xa8
	.cfi_rel_offset fs9, 0xb0
	.cfi_rel_offset fs10, 0xb8
	.cfi_rel_offset fs11, 0xc0
.endm

.macro RESTORE_CALLEE_SAVED_FOR_TEST
	ld	ra, 0x00(sp)
	ld	s0, 0x08(sp)
	ld	s1, 0x10(sp)
	ld	s2, 0x18(sp)
	ld	s3, 0x20(sp)
	ld	s4, 0x28(sp)
	ld	s5, 0x30(sp)
	ld	s6, 0x38(sp)
	ld	s7, 0x40(sp)
	ld	s8, 0x48(sp)
	ld	s9, 0x50(sp)
	ld	s10, 0x58(sp)
	ld	s11, 0x60(sp)
	fld	fs0, 0x68(sp)
	fld	fs1, 0x70(sp)
	fld	fs2, 0x78(sp)
	fld	fs3, 0x80(sp)
	fld	fs4, 0x88(sp)
	fld	fs5, 0x90(sp)
	fld	fs6, 0x98(sp)
	fld	fs7, 0xa0(sp)
	fld	fs8, 0xa8(sp)
	fld	fs9, 0xb0(sp)
	fld	fs10, 0xb8(sp)
	fld	fs11, 0xc0(sp)
.endm

	.globl	cospace_test_jump_with_patterns
	.type	cospace_test_jump_with_patterns, @function
	.p2align 2
cospace_test_jump_with_patterns:
	.cfi_startproc
	addi	sp, sp, -0xd0
	.cfi_def_cfa_offset 0xd0
	SAVE_CALLEE_SAVED_FOR_TEST
	sd	a3, 0xc8(sp)		/* observed */
	ld	s0, 0(a2)
	ld	s1, 8(a2)
	ld	s2, 16(a2)
	ld	s3, 24(a2)
	ld	s4, 32(a2)
	ld	s5, 40(a2)
	ld	s6, 48(a2)
	ld	s7, 56(a2)
	ld	s8, 64(a2)
	ld	s9, 72(a2)
	ld	s10, 80(a2)
	ld	s11, 88(a2)
	fld	fs0, 96(a2)
	fld	fs1, 104(a2)
	fld	fs2, 112(a2)
	fld	fs3, 120(a2)
	fld	fs4, 128(a2)
	fld	fs5, 136(a2)
	fld	fs6, 144(a2)
	fld	fs7, 152(a2)
	fld	fs8, 160(a2)
	fld	fs9, 168(a2)
	fld	fs10, 176(a2)
	fld	fs11, 184(a2)
	call	cospace_context_jump	/* a0:a1 = its transfer, returned untouched */
	ld	t0, 0xc8(sp)
	sd	s0, 0(t0)
	sd	s1, 8(t0)
	sd	s2, 16(t0)
	sd	s3, 24(t0)
	sd	s4, 32(t0)
	sd	s5, 40(t0)
	sd	s6, 48(t0)
	sd	s7, 56(t0)
	sd	s8, 64(t0)
	sd	s9, 72(t0)
	sd	s10, 80(t0)
	sd	s11, 88(t0)
	fsd	fs0, 96(t0)
	fsd	fs1, 104(t0)
	fsd	fs2, 112(t0)
	fsd	fs3, 120(t0)
	fsd	fs4, 128(t0)
	fsd	fs5, 136(t0)
	fsd	fs6, 144(t0)
	fsd	fs7, 152(t0)
	fsd	fs8, 160(t0)
	fsd	fs9, 168(t0)
	fsd	fs10, 176(t0)
	fsd	fs11, 184(t0)
	RESTORE_CALLEE_SAVED_FOR_TEST
	addi	sp, sp, 0xd0
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	cospace_test_jump_with_patterns, .-cospace_test_jump_with_patterns

	.globl	cospace_test_jump_clobbering
	.type	cospace_test_jump_clobbering, @function
	.p2align 2
cospace_test_jump_clobbering:
	.cfi_startproc
	addi	sp, sp, -0xd0
	.cfi_def_cfa_offset 0xd0
	SAVE_CALLEE_SAVED_FOR_TEST
	li	t0, 0xbadbadbadbad0000
	addi	s0, t0, 1
	addi	s1, t0, 2
	addi	s2, t0, 3
	addi	s3, t0, 4
	addi	s4, t0, 5
	addi	s5, t0, 6
	addi	s6, t0, 7
	addi	s7, t0, 8
	addi	s8, t0, 9
	addi	s9, t0, 10
	addi	s10, t0, 11
	addi	s11, t0, 12
	addi	t1, t0, 13
	fmv.d.x	fs0, t1
	addi	t1, t0, 14
	fmv.d.x	fs1, t1
	addi	t1, t0, 15
	fmv.d.x	fs2, t1
	addi	t1, t0, 16
	fmv.d.x	fs3, t1
	addi	t1, t0, 17
	fmv.d.x	fs4, t1
	addi	t1, t0, 18
	fmv.d.x	fs5, t1
	addi	t1, t0, 19
	fmv.d.x	fs6, t1
	addi	t1, t0, 20
	fmv.d.x	fs7, t1
	addi	t1, t0, 21
	fmv.d.x	fs8, t1
	addi	t1, t0, 22
	fmv.d.x	fs9, t1
	addi	t1, t0, 23
	fmv.d.x	fs10, t1
	addi	t1, t0, 24
	fmv.d.x	fs11, t1
	call	cospace_context_jump
	RESTORE_CALLEE_SAVED_FOR_TEST
	addi	sp, sp, 0xd0
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	cospace_test_jump_clobbering, .-cospace_test_jump_clobbering

	.section .note.GNU-stack,"",@progbits
