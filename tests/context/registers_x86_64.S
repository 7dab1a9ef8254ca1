/* Test helpers: drive cospace_context_jump with every callee-saved register
 * of the x86-64 System V ABI holding a known pattern (rbx, rbp, r12-r15).
 *
 * cospace_transfer cospace_test_jump_with_patterns(cospace_context to, void* data,
 *                                                  const uint64_t patterns[6], uint64_t observed[6])
 *   Loads patterns into rbx, rbp, r12, r13, r14, r15 (in that order), jumps,
 *   and when resumed stores the same registers into observed before restoring
 *   its caller's values.
 * cospace_transfer cospace_test_jump_clobbering(cospace_context to, void* data)
 *   Fills the same registers with garbage, then jumps (and restores them on return).
 */
	.text
	.globl	cospace_test_callee_saved_count
	.section .rodata
	.p2align 2
cospace_test_callee_saved_count:
	.long	6
	.text

	.globl	cospace_test_jump_with_patterns
	.type	cospace_test_jump_with_patterns, @function
cospace_test_jump_with_patterns:
	.cfi_startproc
	endbr64
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	pushq	%rcx			/* observed; also leaves rsp 16-aligned for the call */
	.cfi_adjust_cfa_offset 8
	movq	0(%rdx), %rbx
	movq	8(%rdx), %rbp
	movq	16(%rdx), %r12
	movq	24(%rdx), %r13
	movq	32(%rdx), %r14
	movq	40(%rdx), %r15
	call	cospace_context_jump@PLT
	movq	(%rsp), %rcx
	movq	%rbx, 0(%rcx)
	movq	%rbp, 8(%rcx)
	movq	%r12, 16(%rcx)
	movq	%r13, 24(%rcx)
	movq	%r14, 32(%rcx)
	movq	%r15, 40(%rcx)
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	cospace_test_jump_with_patterns, .-cospace_test_jump_with_patterns

	.globl	cospace_test_jump_clobbering
	.type	cospace_test_jump_clobbering, @function
cospace_test_jump_clobbering:
	.cfi_startproc
	endbr64
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	movabsq	$0xbadbadbadbad0001, %rbx
	movabsq	$0xbadbadbadbad0002, %rbp
	movabsq	$0xbadbadbadbad0003, %r12
	movabsq	$0xbadbadbadbad0004, %r13
	movabsq	$0xbadbadbadbad0005, %r14
	movabsq	$0xbadbadbadbad0006, %r15
	call	cospace_context_jump@PLT
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	cospace_test_jump_clobbering, .-cospace_test_jump_clobbering

	.section .note.GNU-stack,"",@progbits
