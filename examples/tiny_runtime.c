/* tiny_runtime.c: a minimal tasklet runtime in C, in the style of Stackless
 * Python, built only on cospace's slicing primitives (cospace/slice.h).
 *
 * Tasklets run one at a time on the thread's own stack, below a base the
 * scheduler declares; when a tasklet yields, its live slice (its frames from
 * the stack pointer up to the base) is saved to a heap block sized to it and
 * the next one's is copied back. A suspended tasklet costs its live slice
 * plus a small header: no stack is reserved for it.
 *
 *   tiny_runtime [tasklets] [depth]
 *
 * Each tasklet recurses `depth` levels (the default: 10 to 40, varying) and
 * yields at the bottom a few times; the scheduler runs them round-robin and
 * prints how many bytes the suspended tasklets held at the fullest moment.
 */
#include <cospace/slice.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the runtime: tasklets, a run queue, yield ---------------------------- */

typedef struct tasklet {
  cospace_slice* slice;
  void (*run)(struct tasklet* self, void* arg);
  void* arg;
  struct tasklet* next; /* run queue */
} tasklet;

typedef struct runtime {
  cospace_slice* scheduler; /* the scheduler's own slice */
  void* base;               /* tasklets run below this address */
  tasklet* head;
  tasklet* tail;
  size_t alive;
} runtime;

static runtime rt;

static void die(const char* what) {
  fprintf(stderr, "tiny_runtime: %s: %s\n", what, cospace_last_error_message());
  exit(1);
}

static void enqueue(tasklet* t) {
  t->next = NULL;
  if (rt.tail != NULL) rt.tail->next = t;
  else rt.head = t;
  rt.tail = t;
}

static void tasklet_main(cospace_slice* self, void* arg) {
  tasklet* t = (tasklet*)arg;
  (void)self;
  t->run(t, t->arg);
  /* Returning ends the slice: control goes back to the scheduler, which
   * switched here last. */
}

static void spawn(void (*run)(tasklet*, void*), void* arg) {
  tasklet* t = (tasklet*)calloc(1, sizeof *t);
  if (t == NULL) die("out of memory");
  t->run = run;
  t->arg = arg;
  if (cospace_slice_create(&t->slice, rt.base, tasklet_main, t) != COSPACE_OK) die("cospace_slice_create");
  enqueue(t);
  rt.alive++;
}

/* Called by a tasklet: back to the scheduler, which requeues it. */
static void yield(tasklet* self) {
  if (cospace_slice_switch(self->slice, rt.scheduler) != COSPACE_OK) die("cospace_slice_switch");
}

/* Runs tasklets until none is left; returns the most bytes held at once.
 * Only the tasklet switched to changes what it holds (the scheduler's own
 * frames lie above the tasklets' base), so the total is kept as it goes. */
static size_t schedule(void) {
  size_t peak = 0;
  size_t held = 0;
  while (rt.head != NULL) {
    tasklet* t = rt.head;
    rt.head = t->next;
    if (rt.head == NULL) rt.tail = NULL;
    held -= cospace_slice_saved_bytes(t->slice);
    if (cospace_slice_switch(rt.scheduler, t->slice) != COSPACE_OK) die("cospace_slice_switch");
    held += cospace_slice_saved_bytes(t->slice);
    if (cospace_slice_finished(t->slice)) {
      cospace_slice_destroy(t->slice);
      free(t);
      rt.alive--;
    } else {
      enqueue(t);
    }
    if (held > peak) peak = held;
  }
  return peak;
}

/* ---- the program: tasklets that recurse, then yield at depth -------------- */

typedef struct job {
  int id;
  int depth;
  long result;
} job;

static long descend(tasklet* self, job* j, int level) {
  volatile char frame[64];
  memset((char*)frame, (char)(j->id + level), sizeof frame);
  long below = 0;
  if (level < j->depth) {
    below = descend(self, j, level + 1);
  } else {
    for (int i = 0; i < 3; ++i) yield(self); /* suspended at full depth */
  }
  /* The frame must come back exactly as it was left. */
  for (size_t i = 0; i < sizeof frame; ++i)
    if (frame[i] != (char)(j->id + level)) return -1000000;
  return below + level;
}

static void work(tasklet* self, void* arg) {
  job* j = (job*)arg;
  j->result = descend(self, j, 0);
}

/* The scheduler runs in a frame below main's, and the tasklets below that:
 * their base is declared a little under the scheduler's own position. */
static int run(int count, int fixed_depth) {
  rt.base = (char*)cospace_stack_position() - 8192;
  if (cospace_slice_attach(&rt.scheduler, cospace_stack_position()) != COSPACE_OK) die("cospace_slice_attach");

  job* jobs = (job*)calloc((size_t)count, sizeof *jobs);
  if (jobs == NULL) die("out of memory");
  for (int i = 0; i < count; ++i) {
    jobs[i].id = i;
    jobs[i].depth = fixed_depth > 0 ? fixed_depth : 10 + i % 31;
    spawn(work, &jobs[i]);
  }
  const size_t peak = schedule();

  int bad = 0;
  for (int i = 0; i < count; ++i) {
    const long expected = (long)jobs[i].depth * (jobs[i].depth + 1) / 2;
    if (jobs[i].result != expected) ++bad;
  }
  printf("tiny_runtime: %d tasklets finished, %d wrong; suspended tasklets held at most %zu bytes "
         "(%.0f per tasklet)\n",
         count, bad, peak, (double)peak / count);
  free(jobs);
  cospace_slice_destroy(rt.scheduler);
  return bad == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  const int count = argc > 1 ? atoi(argv[1]) : 1000;
  const int depth = argc > 2 ? atoi(argv[2]) : 0;
  if (count <= 0 || depth < 0) {
    fprintf(stderr, "usage: tiny_runtime [tasklets > 0] [depth >= 0]\n");
    return 2;
  }
  /* Probe once: the sjlj backend cannot start slices on the thread's stack. */
  cospace_slice* probe = NULL;
  if (cospace_slice_create(&probe, cospace_stack_position(), tasklet_main, NULL) == COSPACE_ERROR_STACK_NOT_BELOW) {
    printf("tiny_runtime: skipped: %s\n", cospace_last_error_message());
    return 77;
  }
  cospace_slice_destroy(probe);
  return run(count, depth);
}
