// A program for the gdb test: a context whose entry calls a probe function,
// where the test sets a breakpoint and asks for a backtrace.
#include <cospace/context.h>

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

extern "C" {

[[gnu::noinline]] void gdb_probe_inner(int depth) {
  asm volatile("" ::: "memory");
  std::printf("probe at depth %d\n", depth);
}

[[gnu::noinline]] void gdb_probe_middle(int depth) {
  gdb_probe_inner(depth + 1);
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void gdb_probe_entry(cospace_transfer t) {
  gdb_probe_middle(1);
  cospace_context_jump(t.from, nullptr);
  std::abort();
}
}

int main() {
  constexpr std::size_t size = 1 << 20;
  void* stack = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return 1;
  cospace_context ctx = nullptr;
  cospace_status status =
      cospace_context_create(static_cast<char*>(stack) + size, size, gdb_probe_entry, &ctx);
  if (status != COSPACE_OK) {
    std::fprintf(stderr, "%s\n", cospace_status_message(status));
    return 1;
  }
  cospace_context_jump(ctx, nullptr);
  std::puts("back in main");
  return 0;
}
