/* cospace: the C API (C99). Fibers whose stacks never need a size.
 *
 *   cospace_fiber* f;
 *   if (cospace_fiber_create(&f, body, arg, NULL) != COSPACE_OK) { ...cospace_last_error_message()... }
 *   while (!cospace_fiber_done(f)) cospace_fiber_resume(f);
 *   cospace_fiber_destroy(f);
 *
 * Every function that can fail returns a cospace_status and records it, with
 * a message naming the fiber and the mistake, for cospace_last_error() and
 * cospace_last_error_message() on the calling thread. No C++ exception ever
 * crosses this API: one escaping a fiber's function makes
 * cospace_fiber_resume return COSPACE_ERROR_FIBER_THREW.
 *
 * The caller owns what it passes: `arg` is never freed by cospace, and the
 * name is copied. Destroying a suspended fiber releases its stack without
 * running anything more on it (C has no destructors to run).
 */
#ifndef COSPACE_COSPACE_H
#define COSPACE_COSPACE_H

#include <stddef.h>
#include <stdint.h>

#include <cospace/config.h>
#include <cospace/context.h>
#include <cospace/status.h>

COSPACE_EXTERN_C_BEGIN

typedef struct cospace_fiber cospace_fiber;
typedef void (*cospace_fiber_function)(void* arg);

typedef enum cospace_stack_kind {
  COSPACE_STACK_REGION = 0, /* grows on demand in the global space (default) */
  COSPACE_STACK_SLICED = 1, /* shares a stack; saved to the heap when suspended */
  COSPACE_STACK_FIXED = 2   /* a fixed-size guarded stack */
} cospace_stack_kind;

typedef struct cospace_fiber_options {
  const char* name;         /* NULL: none; copied */
  cospace_stack_kind stack; /* COSPACE_STACK_REGION */
  size_t max_stack;         /* 0: the space's default (1 GiB) */
  size_t fixed_size;        /* COSPACE_STACK_FIXED only; 0: 64 KiB */
} cospace_fiber_options;

/* Makes a fiber that will run fn(arg) when first resumed. options may be NULL. */
COSPACE_API cospace_status cospace_fiber_create(cospace_fiber** out, cospace_fiber_function fn,
                                                void* arg, const cospace_fiber_options* options)
    COSPACE_NOEXCEPT;
/* Runs the fiber until it yields or returns. */
COSPACE_API cospace_status cospace_fiber_resume(cospace_fiber* fiber) COSPACE_NOEXCEPT;
/* Suspends the running fiber (COSPACE_ERROR_NOT_IN_FIBER outside any fiber).
 * Not noexcept for C++ callers: in a fiber made with the C++ API whose handle
 * is destroyed, cospace::forced_unwind leaves through this call. */
COSPACE_API cospace_status cospace_fiber_yield(void);
/* 1 once its function has returned, else 0 (also for NULL). */
COSPACE_API int cospace_fiber_done(const cospace_fiber* fiber) COSPACE_NOEXCEPT;
/* Destroys a fiber that is not running; NULL is accepted and ignored. */
COSPACE_API cospace_status cospace_fiber_destroy(cospace_fiber* fiber) COSPACE_NOEXCEPT;
/* The name given at creation ("" if none), and the fiber's id (0 for NULL). */
COSPACE_API const char* cospace_fiber_name(const cospace_fiber* fiber) COSPACE_NOEXCEPT;
COSPACE_API uint64_t cospace_fiber_id(const cospace_fiber* fiber) COSPACE_NOEXCEPT;
/* The running fiber, or NULL on a thread's own stack. */
COSPACE_API cospace_fiber* cospace_fiber_current(void) COSPACE_NOEXCEPT;

/* The last failure on this thread (COSPACE_OK if none) and its message. */
COSPACE_API cospace_status cospace_last_error(void) COSPACE_NOEXCEPT;
COSPACE_API const char* cospace_last_error_message(void) COSPACE_NOEXCEPT;

COSPACE_EXTERN_C_END

#endif /* COSPACE_COSPACE_H */
