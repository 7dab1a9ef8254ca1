/* cospace/slice.h: stack-slicing primitives for language runtimes (C99).
 *
 * Enough for a Stackless- or greenlet-style runtime to do its own "hard
 * switching": many tasklets run in turn on one stack, below a base the
 * runtime declares; on a switch the live slice of the one leaving (from its
 * stack position up to its base) stays where it is until another slice needs
 * those bytes, and is then saved to a heap block sized to it; the slice
 * switched to is copied back to the very addresses it had. Pointers a slice
 * keeps into its own stack therefore stay valid; pointers into another
 * slice's stack do not, while that slice is suspended.
 *
 *   void* base = cospace_stack_position();          // in a frame that outlives the tasklets
 *   cospace_slice *main, *t;
 *   cospace_slice_attach(&main, base);               // the running code is a slice too
 *   cospace_slice_create(&t, base, tasklet, arg);    // runs tasklet(t, arg) below base
 *   cospace_slice_switch(main, t);                   // ... until t switches back to main
 *
 * All slices of a thread share one stack domain: bases declared on one
 * thread must be on one stack (usually the thread's own), and a slice runs
 * only on the thread that made it. A slice's function that returns ends the
 * slice; control then goes to the slice that last switched to it. C++
 * exceptions must not be in flight across a switch (use cospace_fiber or
 * cospace::fiber with stack_kind::sliced for that). On the sjlj backend a
 * slice cannot start above the stack cospace switches from:
 * cospace_slice_create then fails with COSPACE_ERROR_STACK_NOT_BELOW.
 * Errors are recorded for cospace_last_error() / cospace_last_error_message().
 * Under ThreadSanitizer each slice is also a TSan fiber (so that TSan keeps
 * its frames apart from the other slices'): TSan allows about 8,000 threads
 * and fibers at once, so a TSan build refuses the 7,001st live slice with
 * COSPACE_ERROR_EXHAUSTED.
 */
#ifndef COSPACE_SLICE_H
#define COSPACE_SLICE_H

#include <stddef.h>

#include <cospace/config.h>
#include <cospace/cospace.h> /* cospace_last_error(), cospace_last_error_message() */
#include <cospace/status.h>

COSPACE_EXTERN_C_BEGIN

typedef struct cospace_slice cospace_slice;
typedef void (*cospace_slice_function)(cospace_slice* self, void* arg);

/* An address in the caller's frame, at or just above its stack pointer:
 * where the caller's live stack begins. */
COSPACE_API void* cospace_stack_position(void) COSPACE_NOEXCEPT;

/* Declares the running code as a slice whose live stack runs from the
 * current position up to `base` (which must be above it). */
COSPACE_API cospace_status cospace_slice_attach(cospace_slice** out, void* base) COSPACE_NOEXCEPT;

/* A new slice: when first switched to, it runs fn(self, arg) with its stack
 * starting just below `base` (rounded down to 16 bytes). */
COSPACE_API cospace_status cospace_slice_create(cospace_slice** out, void* base, cospace_slice_function fn,
                                                void* arg) COSPACE_NOEXCEPT;

/* Suspends `from`, which must be the running slice, and runs `to` (a slice
 * of this thread that is suspended or not started). Returns COSPACE_OK when a
 * switch comes back to `from`; an error, without switching, otherwise. */
COSPACE_API cospace_status cospace_slice_switch(cospace_slice* from, cospace_slice* to) COSPACE_NOEXCEPT;

/* 1 once the slice's function has returned (0 for attached slices and NULL). */
COSPACE_API int cospace_slice_finished(const cospace_slice* slice) COSPACE_NOEXCEPT;

/* The slice's base, and the bytes it holds in the heap now (its saved part). */
COSPACE_API void* cospace_slice_base(const cospace_slice* slice) COSPACE_NOEXCEPT;
COSPACE_API size_t cospace_slice_saved_bytes(const cospace_slice* slice) COSPACE_NOEXCEPT;

/* The running slice of this thread, or NULL when none was attached. */
COSPACE_API cospace_slice* cospace_slice_running(void) COSPACE_NOEXCEPT;

/* Frees a slice that is not running (a suspended one is dropped without
 * running anything more on it); NULL is accepted and ignored. The running
 * attached slice may be destroyed too: that detaches the running code, and
 * the thread may attach again. The slice the running slice returns to (the
 * one that last switched to it) is refused (COSPACE_ERROR_FIBER_MISUSE). A
 * suspended slice may return to the one destroyed: that slice's bytes are
 * freed at once, its small record when no slice returns to it any more
 * (resuming such a slice makes it return to its resumer instead); if the
 * suspended slice's function returns while it still returns to the
 * destroyed slice, cospace reports it on stderr and aborts (as it does when
 * the slice returned to has finished). */
COSPACE_API cospace_status cospace_slice_destroy(cospace_slice* slice) COSPACE_NOEXCEPT;

COSPACE_EXTERN_C_END

#endif /* COSPACE_SLICE_H */
