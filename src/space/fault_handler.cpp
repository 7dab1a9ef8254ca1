// The SIGSEGV handler.
//
// It runs on the thread's alternate signal stack (the faulting stack may have
// no room left). It asks the current fiber's space whether the fault is a
// stack growth (space_impl::handle_fault in growth.cpp, which grows the stack
// or reports an overflow and aborts). Any other fault is forwarded to the
// handler that was installed before ours, exactly as if cospace were absent:
// its sa_sigaction or sa_handler is called; if it was SIG_DFL or SIG_IGN, the
// default disposition is restored and the handler returns, so the faulting
// instruction runs again and the kernel applies the default action (a core
// dump), as it would have without us.
#include "fault_handler.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

#include "fault_resume.hpp"
#include "os.hpp"
#include "space_impl.hpp"

namespace cospace::detail {
namespace {

struct sigaction previous_action;


void forward(int signal, siginfo_t* info, void* context) {
  const struct sigaction& p = previous_action;
  if ((p.sa_flags & SA_SIGINFO) != 0 && p.sa_sigaction != nullptr) {
    p.sa_sigaction(signal, info, context);
    return;
  }
  if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal, &fallback, nullptr);
    return;  // the instruction faults again, now with the default action
  }
  p.sa_handler(signal);
}

void on_fault(int signal, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  region* current = t_current_region;
  if (current != nullptr) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    if (current->space->handle_fault(current, address) == fault_result::grew) {
      resume_after_growth(context, address);  // per architecture (fault_resume.hpp)
      errno = saved_errno;
      return;
    }
  }
  errno = saved_errno;
  forward(signal, info, context);
}

// The alternate signal stack this thread allocated, freed when it exits.
struct alternate_stack {
  void* memory = nullptr;
  std::size_t size = 0;
  ~alternate_stack() {
    if (memory == nullptr) return;
    stack_t disable{};
    disable.ss_flags = SS_DISABLE;
    sigaltstack(&disable, nullptr);
    munmap(memory, size);
  }
};
thread_local alternate_stack t_alternate_stack;

}  // namespace

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous_action) != 0) {
      throw space_error(space_error::reason::system_call_failed,
                        std::string("cannot install the SIGSEGV handler: ") + std::strerror(errno));
    }
  });
}

[[gnu::tls_model("initial-exec")]] thread_local constinit region* t_current_region = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local constinit bool t_thread_prepared = false;

void prepare_thread_slow() {
  if (t_thread_prepared) return;
  stack_t existing{};
  if (sigaltstack(nullptr, &existing) == 0 && (existing.ss_flags & SS_DISABLE) == 0) {
    t_thread_prepared = true;  // the thread already has one: use it
    return;
  }
  const long minimum = sysconf(_SC_MINSIGSTKSZ);
  std::size_t size = 64 * 1024;
  if (minimum > 0 && static_cast<std::size_t>(minimum) * 4 > size) size = static_cast<std::size_t>(minimum) * 4;
  void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw space_error(space_error::reason::system_call_failed,
                      "cannot map an alternate signal stack: " + std::string(std::strerror(errno)));
  }
  stack_t stack{};
  stack.ss_sp = memory;
  stack.ss_size = size;
  if (sigaltstack(&stack, nullptr) != 0) {
    munmap(memory, size);
    throw space_error(space_error::reason::system_call_failed,
                      "cannot install an alternate signal stack: " + std::string(std::strerror(errno)));
  }
  t_alternate_stack.memory = memory;
  t_alternate_stack.size = size;
  t_thread_prepared = true;
}

}  // namespace cospace::detail
