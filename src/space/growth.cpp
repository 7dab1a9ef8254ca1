// Growth: the fault handler's decision, and trimming a stack back.
//
// Is this fault ours? Only a fault of the fiber running on this thread, in
// its own region, below its usable stack (in the guard zone; or, with
// commit_on_use, anywhere in its PROT_NONE free part) is ours. Anything else
// — another fiber's memory, the reservation's free space, the rest of the
// process — is handed to the previous handler untouched (fault_handler.cpp).
//
// Ours, then: can the stack grow? It may use addresses down to
//     floor = max(lo + guard_size, top - max_stack)
// lo being where the region below begins (its stack top sits right there), so
// the zone can never move into a neighbour. If the fault lies at or above the
// floor, the zone moves down — at least to the faulting page, and to twice
// the current depth, so a deep recursion faults O(log depth) times — and the
// faulting instruction is retried. Below the floor it is an overflow: one
// line on stderr naming the fiber, the region and the depth, then abort.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "os.hpp"
#include "protection.hpp"
#include "space_impl.hpp"

namespace cospace::detail {
namespace {

// A tiny async-signal-safe formatter for the overflow line.
class line {
 public:
  line& text(const char* s) {
    while (*s != '\0' && used_ < sizeof buffer_ - 1) buffer_[used_++] = *s++;
    return *this;
  }
  line& number(std::uint64_t v) {
    char digits[24];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0 && used_ < sizeof buffer_ - 1) buffer_[used_++] = digits[--n];
    return *this;
  }
  line& hex(std::uint64_t v) {
    text("0x");
    char digits[16];
    int n = 0;
    do digits[n++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
    while (n > 0 && used_ < sizeof buffer_ - 1) buffer_[used_++] = digits[--n];
    return *this;
  }
  line& bytes(std::uint64_t v) {
    if (v >= (std::uint64_t{1} << 20) && v % 1024 == 0) return number(v >> 10).text(" KiB");
    return number(v).text(" bytes");
  }
  void write_to_stderr() {
    buffer_[used_++] = '\n';
    std::size_t done = 0;
    while (done < used_) {
      const ssize_t n = ::write(STDERR_FILENO, buffer_ + done, used_ - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char buffer_[512];
  std::size_t used_ = 0;
};

std::uintptr_t page_floor(std::uintptr_t a) { return a & ~(std::uintptr_t{page_size()} - 1); }

}  // namespace

void space_impl::overflow(const region* r, std::uintptr_t address, const char* why) noexcept {
  line l;
  l.text("cospace: stack overflow in fiber ");
  if (r->name != nullptr && *r->name != '\0') l.text("'").text(r->name).text("' (id ").number(r->id).text(")");
  else l.text("id ").number(r->id);
  l.text(": depth ").bytes(r->top - std::min(address, r->top))
      .text(" reached in region [").hex(r->lo).text(", ").hex(r->hi).text("), limit ")
      .bytes(r->max_stack).text(": ").text(why);
  l.write_to_stderr();
  std::abort();
}

fault_result space_impl::handle_fault(region* r, std::uintptr_t address) noexcept {
  // zone_hi changes only on the fiber's own thread (growth here, trimming):
  // safe to read unlocked. lo changes when another thread carves the free
  // part, so it is read under the lock.
  if (r->kind != region_kind::stack || address < base_ || address >= r->zone_hi) return fault_result::not_ours;
  if (lock_.held_by_this_thread()) {
    static const char message[] =
        "cospace: internal error: a fault inside the space's own critical section\n";
    (void)::write(STDERR_FILENO, message, sizeof message - 1);
    std::abort();
  }
  lock_.lock();
  const bool in_zone = address >= r->zone_lo ||
                       (mode_ == protection_mode::commit_on_use && address >= r->lo);
  if (!in_zone || address < r->lo) {
    lock_.unlock();
    return fault_result::not_ours;
  }
  const std::uintptr_t page = page_size();
  const std::uintptr_t by_limit = r->top > r->max_stack ? r->top - r->max_stack : 0;
  const std::uintptr_t floor = (std::max(r->lo + options_.guard_size, by_limit) + page - 1) & ~(page - 1);
  if (address < floor) {
    ++counters_.overflows_caught;
    lock_.unlock();
    overflow(r, address,
             address < by_limit ? "the fiber's maximum stack size is reached"
                                : "the space below it is taken by another region");
  }
  const std::uintptr_t depth = r->top - r->zone_hi;
  const std::uintptr_t doubled = r->top > 2 * depth ? page_floor(r->top - 2 * depth) : 0;
  const std::uintptr_t new_hi = std::max(floor, std::min(page_floor(address), doubled));
  const std::uintptr_t new_lo = new_hi - options_.guard_size;
  if (const int error = grow_zone(mode_, r->zone_lo, r->zone_hi, new_lo, new_hi)) {
    lock_.unlock();
    (void)error;
    overflow(r, address, "the guard zone could not be moved (a system call was refused)");
  }
  r->zone_lo = new_lo;
  r->zone_hi = new_hi;
  ++r->growths;
  ++counters_.growth_events;
  heap_.changed(r);
  lock_.unlock();
  return fault_result::grew;
}

void space_impl::trim_stack(region* r, std::uintptr_t stack_pointer) {
  // Keep the current depth plus the initial stack as slack above the zone.
  const std::uintptr_t slack = options_.initial_stack;
  if (stack_pointer <= r->zone_hi + slack) return;
  const std::uintptr_t new_hi = std::min(page_floor(stack_pointer - slack), r->initial_zone_hi);
  if (new_hi <= r->zone_hi) return;
  const std::uintptr_t new_lo = new_hi - options_.guard_size;
  if (const int error = shrink_zone(mode_, r->zone_lo, r->zone_hi, new_lo, new_hi)) {
    throw space_error(space_error::reason::system_call_failed,
                      describe_failure("trimming a stack", reinterpret_cast<void*>(r->zone_hi),
                                       new_hi - r->zone_hi, error));
  }
  prefault_stack();
  lock_.lock();
  counters_.bytes_released += new_lo - r->zone_hi;
  r->zone_lo = new_lo;
  r->zone_hi = new_hi;
  heap_.changed(r);
  lock_.unlock();
}

}  // namespace cospace::detail
