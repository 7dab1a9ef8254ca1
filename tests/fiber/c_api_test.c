/* The C API from C99: every entry point, with bad input. Exits non-zero on
 * the first failed check, naming it. */
#include <cospace/cospace.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks = 0;
#define CHECK(condition)                                                               \
  do {                                                                                 \
    ++checks;                                                                          \
    if (!(condition)) {                                                                \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, \
              #condition, cospace_last_error_message());                               \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

static void count_to_three(void* arg) {
  int* counter = (int*)arg;
  for (int i = 0; i < 3; ++i) {
    ++*counter;
    CHECK(cospace_fiber_yield() == COSPACE_OK);
  }
}

static cospace_fiber* self_handle;
static cospace_status destroy_self_status;
static void destroys_itself(void* arg) {
  (void)arg;
  destroy_self_status = cospace_fiber_destroy(self_handle);
  CHECK(cospace_fiber_current() == self_handle);
}

static void deep(void* arg) {
  volatile char frame[4096];
  size_t* left = (size_t*)arg;
  frame[0] = 1;
  if (*left > sizeof frame) {
    *left -= sizeof frame;
    deep(arg);
  }
  frame[1] = frame[0];
}

int main(void) {
  /* create, resume until done, destroy */
  int counter = 0;
  cospace_fiber* f = NULL;
  cospace_fiber_options options = {"counter", COSPACE_STACK_REGION, 0, 0};
  CHECK(cospace_fiber_create(&f, count_to_three, &counter, &options) == COSPACE_OK);
  CHECK(strcmp(cospace_fiber_name(f), "counter") == 0);
  CHECK(cospace_fiber_id(f) != 0);
  while (!cospace_fiber_done(f)) CHECK(cospace_fiber_resume(f) == COSPACE_OK);
  CHECK(counter == 3);
  CHECK(cospace_last_error() == COSPACE_OK);

  /* bad input */
  CHECK(cospace_fiber_resume(f) == COSPACE_ERROR_FIBER_MISUSE);
  CHECK(strstr(cospace_last_error_message(), "'counter'") != NULL);
  CHECK(strstr(cospace_last_error_message(), "finished") != NULL);
  CHECK(cospace_fiber_destroy(f) == COSPACE_OK);
  CHECK(cospace_fiber_resume(NULL) == COSPACE_ERROR_NULL_ARGUMENT);
  CHECK(cospace_fiber_create(NULL, count_to_three, NULL, NULL) == COSPACE_ERROR_NULL_ARGUMENT);
  CHECK(cospace_fiber_create(&f, NULL, NULL, NULL) == COSPACE_ERROR_NULL_ARGUMENT);
  CHECK(cospace_fiber_yield() == COSPACE_ERROR_NOT_IN_FIBER);
  CHECK(strstr(cospace_last_error_message(), "outside any fiber") != NULL);
  CHECK(cospace_fiber_done(NULL) == 0);
  CHECK(strcmp(cospace_fiber_name(NULL), "") == 0);
  CHECK(cospace_fiber_destroy(NULL) == COSPACE_OK);
  cospace_fiber_options bad = {NULL, (cospace_stack_kind)42, 0, 0};
  CHECK(cospace_fiber_create(&f, count_to_three, NULL, &bad) == COSPACE_ERROR_BAD_OPTION);
  cospace_fiber_options tiny = {NULL, COSPACE_STACK_FIXED, 0, 100};
  CHECK(cospace_fiber_create(&f, count_to_three, NULL, &tiny) == COSPACE_ERROR_FIBER_MISUSE);
  CHECK(strstr(cospace_last_error_message(), "fixed_size") != NULL);

  /* a fiber cannot destroy itself while running */
  CHECK(cospace_fiber_create(&self_handle, destroys_itself, NULL, NULL) == COSPACE_OK);
  CHECK(cospace_fiber_resume(self_handle) == COSPACE_OK);
  CHECK(destroy_self_status == COSPACE_ERROR_FIBER_MISUSE);
  CHECK(cospace_fiber_destroy(self_handle) == COSPACE_OK);

  /* destroying a suspended fiber releases it */
  counter = 0;
  CHECK(cospace_fiber_create(&f, count_to_three, &counter, NULL) == COSPACE_OK);
  CHECK(cospace_fiber_resume(f) == COSPACE_OK);
  CHECK(cospace_fiber_destroy(f) == COSPACE_OK);
  CHECK(counter == 1);

  /* deep recursion with no stack size, on region and fixed stacks */
  size_t depth = (size_t)32 << 20;
  CHECK(cospace_fiber_create(&f, deep, &depth, NULL) == COSPACE_OK);
  CHECK(cospace_fiber_resume(f) == COSPACE_OK && cospace_fiber_done(f));
  CHECK(cospace_fiber_destroy(f) == COSPACE_OK);
  cospace_fiber_options fixed = {"fixed", COSPACE_STACK_FIXED, 0, 256 * 1024};
  depth = 64 * 1024;
  CHECK(cospace_fiber_create(&f, deep, &depth, &fixed) == COSPACE_OK);
  CHECK(cospace_fiber_resume(f) == COSPACE_OK && cospace_fiber_done(f));
  CHECK(cospace_fiber_destroy(f) == COSPACE_OK);

  /* sliced fibers: two on the thread's shared stacks, interleaved; one is
   * destroyed while suspended (its saved slice is simply freed) */
  cospace_fiber_options sliced = {"sliced", COSPACE_STACK_SLICED, 0, 0};
  int sliced_counters[2] = {0, 0};
  cospace_fiber* pair[2];
#if defined(__SANITIZE_THREAD__)
  CHECK(cospace_fiber_create(&pair[0], count_to_three, &sliced_counters[0], &sliced) == COSPACE_ERROR_FIBER_MISUSE);
#else
  for (int i = 0; i < 2; ++i) CHECK(cospace_fiber_create(&pair[i], count_to_three, &sliced_counters[i], &sliced) == COSPACE_OK);
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 2; ++i) CHECK(cospace_fiber_resume(pair[i]) == COSPACE_OK);
  CHECK(sliced_counters[0] == 2 && sliced_counters[1] == 2);
  CHECK(cospace_fiber_destroy(pair[0]) == COSPACE_OK);
  CHECK(cospace_fiber_resume(pair[1]) == COSPACE_OK && cospace_fiber_resume(pair[1]) == COSPACE_OK);
  CHECK(sliced_counters[1] == 3 && cospace_fiber_done(pair[1]));
  CHECK(cospace_fiber_destroy(pair[1]) == COSPACE_OK);
#endif

  /* many at once (ThreadSanitizer counts each fiber as a thread, and stops at 8128) */
#if defined(__SANITIZE_THREAD__)
  enum { many = 2000 };
#else
  enum { many = 10000 };
#endif
  static cospace_fiber* fibers[many];
  static int counters[many];
  for (int i = 0; i < many; ++i) CHECK(cospace_fiber_create(&fibers[i], count_to_three, &counters[i], NULL) == COSPACE_OK);
  for (int round = 0; round < 4; ++round)
    for (int i = 0; i < many; ++i)
      if (!cospace_fiber_done(fibers[i])) CHECK(cospace_fiber_resume(fibers[i]) == COSPACE_OK);
  for (int i = 0; i < many; ++i) {
    CHECK(counters[i] == 3 && cospace_fiber_done(fibers[i]));
    CHECK(cospace_fiber_destroy(fibers[i]) == COSPACE_OK);
  }

  printf("%d passed, 0 failed\n", checks);
  return 0;
}
