#include "spin_lock.hpp"

#include <sys/syscall.h>
#include <unistd.h>

namespace cospace::detail {
namespace {
[[gnu::tls_model("initial-exec")]] thread_local int t_thread_id = 0;
}

[[gnu::tls_model("initial-exec")]] thread_local constinit char t_lock_owner_mark = 0;

int this_thread_id() noexcept {
  if (t_thread_id == 0) t_thread_id = static_cast<int>(syscall(SYS_gettid));
  return t_thread_id;
}

// 16 KiB covers every critical section of the space, malloc included; the
// library is built with -fstack-clash-protection, so this frame probes each
// of its pages on entry.
[[gnu::noinline]] void prefault_stack() noexcept {
  char frame[16 * 1024];
  frame[0] = 0;
  asm volatile("" : : "r"(frame) : "memory");  // the frame must exist and be touched
}

}  // namespace cospace::detail
