/* C99 consumer of an installed cospace: one round trip into a context. */
#include <cospace/context.h>

#include <stdio.h>
#include <stdlib.h>

static void entry(cospace_transfer t) {
  *(int*)t.data += 1;
  cospace_context_jump(t.from, t.data);
}

int main(void) {
  enum { size = 64 * 1024 };
  static _Alignas(16) unsigned char stack[size];
  cospace_context ctx;
  cospace_status status = cospace_context_create(stack + size, size, entry, &ctx);
  if (status != COSPACE_OK) {
    fprintf(stderr, "%s\n", cospace_status_message(status));
    return 1;
  }
  int value = 41;
  cospace_context_jump(ctx, &value);
  printf("consumer (%s backend): %d\n", cospace_context_backend(), value);
  return value == 42 ? 0 : 1;
}
