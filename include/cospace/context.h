/* cospace: raw machine contexts, the layer every fiber stands on.
 *
 * A context is a suspended thread of execution: a stack pointer and the
 * callee-saved registers the ABI says a call preserves. These four verbs are
 * all there is, on every architecture and backend:
 *
 *   cospace_context_create      a fresh context on a stack the caller owns
 *   cospace_context_jump        suspend the caller, resume another
 *   cospace_context_jump_ontop  resume another, running a function on top of it first
 *   cospace_context_stack_pointer  the caller's current stack pointer
 *
 * Handles are one-shot: a cospace_context names one suspension. Jumping to it
 * consumes it; the resumed side learns the handle of the context that jumped
 * to it (cospace_transfer.from) and is the only holder of that new handle.
 * Jumping to a consumed handle is undefined: keep only the latest one.
 *
 * The library owns no memory here: stacks belong to the caller, and a context
 * that is never resumed again is dropped by simply forgetting its handle and
 * reusing its stack (nothing on it is destroyed: that is the fiber layer's job).
 */
#ifndef COSPACE_CONTEXT_H
#define COSPACE_CONTEXT_H

#include <stddef.h>

#include <cospace/config.h>
#include <cospace/status.h>

COSPACE_EXTERN_C_BEGIN

/* Opaque handle of a suspended context (on the asm backend, its stack pointer). */
typedef struct cospace_context_record* cospace_context;

/* What a jump delivers to the context it resumes: who jumped, and one pointer. */
typedef struct cospace_transfer {
  cospace_context from;
  void* data;
} cospace_transfer;

/* A context's entry. It receives the first transfer and must never return:
 * it ends by jumping away for the last time. Returning aborts the process
 * with a diagnostic. */
typedef void (*cospace_context_entry)(cospace_transfer transfer);

/* Runs on top of the resumed context; its result is what that context's
 * pending jump returns (for a fresh context: what its entry receives). */
typedef cospace_transfer (*cospace_ontop_function)(cospace_transfer transfer);

/* Makes a fresh context whose stack spans [stack_top - stack_size, stack_top).
 * stack_top must be 16-byte aligned and stack_size at least
 * cospace_context_min_stack(). The first jump to *out calls entry. The stack
 * stays the caller's: under valgrind, register it (VALGRIND_STACK_REGISTER)
 * for as long as it lives, as docs/debugging.md explains. */
COSPACE_API cospace_status cospace_context_create(void* stack_top, size_t stack_size,
                                                  cospace_context_entry entry,
                                                  cospace_context* out) COSPACE_NOEXCEPT;

/* Suspends the caller and resumes `to`, which receives {caller, data}.
 * Returns when some context jumps back to the caller. The jump itself never
 * throws, but a function run on top of the caller by another context's
 * cospace_context_jump_ontop may, and its exception leaves through this call:
 * that is how a suspended context is unwound. */
COSPACE_API cospace_transfer cospace_context_jump(cospace_context to, void* data);

/* Like cospace_context_jump, but on `to`'s stack first calls fn({caller, data});
 * `to` then continues with fn's result. fn may throw only where `to`'s pending
 * jump is inside code that can propagate a C++ exception. */
COSPACE_API cospace_transfer cospace_context_jump_ontop(cospace_context to, void* data,
                                                        cospace_ontop_function fn);

/* The caller's stack pointer (as it is after this call returns). */
COSPACE_API void* cospace_context_stack_pointer(void) COSPACE_NOEXCEPT;

/* The smallest stack cospace_context_create accepts on this backend, in bytes. */
COSPACE_API size_t cospace_context_min_stack(void) COSPACE_NOEXCEPT;

/* "asm", "sjlj" or "ucontext": the backend this library was built with. */
COSPACE_API const char* cospace_context_backend(void) COSPACE_NOEXCEPT;

COSPACE_EXTERN_C_END

#endif /* COSPACE_CONTEXT_H */
