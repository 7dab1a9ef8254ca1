// The ucontext backend: getcontext/makecontext/swapcontext, the POSIX
// reference. Slow (swapcontext saves and restores the signal mask with a
// system call on every switch) but obviously correct, so the suite runs on it
// to tell backend bugs from library bugs. glibc's ucontext carries the
// floating-point control state, and its makecontext root (__start_context)
// ends backtraces cleanly.
#include <ucontext.h>

#include <cstdint>
#include <new>

#include "backends.hpp"
#include "portable_record.hpp"

namespace cospace::context {
namespace {

struct ucontext_record {
  ucontext_t registers;
  resume_slot slot;
};

// makecontext passes only int arguments: pointers travel as 32-bit halves.
unsigned high_half(const void* p) {
  return static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p) >> 32);
}
unsigned low_half(const void* p) {
  return static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p));
}
template <class T>
T join_halves(unsigned high, unsigned low) {
  return reinterpret_cast<T>((std::uintptr_t{high} << 32) | low);
}

void start(unsigned record_high, unsigned record_low, unsigned entry_high, unsigned entry_low) {
  auto* record = join_halves<ucontext_record*>(record_high, record_low);
  auto entry = join_halves<cospace_context_entry>(entry_high, entry_low);
  entry(take_resume(record->slot));
  cospace_context_entry_returned();
}

cospace_transfer switch_to(cospace_context to, void* data, cospace_ontop_function fn) {
  ucontext_record self;
  ucontext_record* target = from_handle<ucontext_record>(to);
  target->slot.incoming = {as_handle(&self), data};
  target->slot.ontop = fn;
  swapcontext(&self.registers, &target->registers);
  return take_resume(self.slot);
}

}  // namespace
}  // namespace cospace::context

using namespace cospace::context;

static_assert(sizeof(ucontext_record) + 8192 <= ucontext_backend.min_stack,
              "the ucontext minimum stack must hold the record and a few frames");

extern "C" {

cospace_context cospace_ucontext_make(void* top, std::size_t size,
                                      cospace_context_entry entry) noexcept {
  auto* record = new (record_at_top<ucontext_record>(top)) ucontext_record;
  char* bottom = static_cast<char*>(top) - size;
  getcontext(&record->registers);
  record->registers.uc_stack.ss_sp = bottom;
  record->registers.uc_stack.ss_size = static_cast<std::size_t>(reinterpret_cast<char*>(record) - bottom);
  record->registers.uc_link = nullptr;
  auto* const entry_address = reinterpret_cast<const void*>(entry);
  makecontext(&record->registers, reinterpret_cast<void (*)()>(&start), 4, high_half(record),
              low_half(record), high_half(entry_address), low_half(entry_address));
  return as_handle(record);
}

cospace_transfer cospace_ucontext_jump(cospace_context to, void* data) {
  return switch_to(to, data, nullptr);
}

cospace_transfer cospace_ucontext_ontop(cospace_context to, void* data,
                                        cospace_ontop_function fn) {
  return switch_to(to, data, fn);
}

[[gnu::noinline]] void* cospace_ucontext_stack_pointer() noexcept { return __builtin_dwarf_cfa(); }

}  // extern "C"
