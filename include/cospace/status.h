/* cospace: status codes returned by the C API. */
#ifndef COSPACE_STATUS_H
#define COSPACE_STATUS_H

#include <cospace/config.h>

COSPACE_EXTERN_C_BEGIN

/* Every C entry point that can fail returns one of these; 0 is success.
 * Values are stable: new codes are only ever appended. */
typedef enum cospace_status {
  COSPACE_OK = 0,
  COSPACE_ERROR_NULL_ARGUMENT = 1,    /* a required pointer (entry, output) was NULL */
  COSPACE_ERROR_STACK_MISALIGNED = 2, /* the stack top is not 16-byte aligned */
  COSPACE_ERROR_STACK_TOO_SMALL = 3,  /* smaller than cospace_context_min_stack() */
  COSPACE_ERROR_STACK_NOT_BELOW = 4,  /* sjlj backend: stack not below the caller's stack */
  COSPACE_ERROR_FIBER_MISUSE = 5,     /* resumed when finished or running, destroyed while running */
  COSPACE_ERROR_NOT_IN_FIBER = 6,     /* yield outside any fiber */
  COSPACE_ERROR_FIBER_THREW = 7,      /* a C++ exception escaped the fiber's function */
  COSPACE_ERROR_BAD_OPTION = 8,       /* an option that cannot work */
  COSPACE_ERROR_EXHAUSTED = 9,        /* no room left in the space's reservation */
  COSPACE_ERROR_SYSTEM = 10,          /* a system call was refused (mmap, madvise, mprotect) */
  COSPACE_ERROR_OUT_OF_MEMORY = 11    /* the heap is exhausted */
} cospace_status;

/* A one-line, human-readable description of a status; never NULL. */
COSPACE_API const char* cospace_status_message(cospace_status status) COSPACE_NOEXCEPT;

COSPACE_EXTERN_C_END

#endif /* COSPACE_STATUS_H */
