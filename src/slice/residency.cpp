// Saving and restoring slices (the algorithm of slice.hpp).
//
// make_resident(target) walks the stack's resident list once:
//   - a slice whose resident part reaches below target's base loses that
//     part: it is appended to the slice's saved bytes, in its inline area
//     and, beyond that, its heap block (the block grows only when the slice
//     is deeper than it ever was; it is reused otherwise);
//   - a slice left with no resident byte leaves the list;
// then copies target's saved prefix back to [low, low + saved_size) and puts
// target at the head of the list. Nothing is copied when target is already
// whole on the stack and nobody else has bytes below its base: the common
// case of a fiber resumed by the same resumer it yielded to.
//
// The copies read and write the stack directly, so this file runs on a stack
// that is not the one being rewritten (copier.cpp arranges it) and tells
// AddressSanitizer that the bytes it moves are plain data: a slice carries
// the shadow of whoever last ran there, not its own.
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "context/backend.hpp"
#include "slice.hpp"
#include "space/region.hpp"
#include "space/sanitizer.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace cospace::detail {
namespace {

[[gnu::tls_model("initial-exec")]] constinit thread_local slice_counters t_counters{};

void unpoison([[maybe_unused]] std::uintptr_t from, [[maybe_unused]] std::size_t size) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(reinterpret_cast<void*>(from), size);
#endif
}

// The size hints behind plan_inline: per thread (slices never change
// threads), one slot per kind of owner, direct-mapped by the key's address;
// a slot belongs to the first key that lands on it, so a save never updates
// another kind's hint. Keys that find their slot taken get no inline area.
struct size_hint {
  const void* key = nullptr;
  std::uint32_t bytes = 0;  // what the last save of a slice of this kind left saved
};
// 16 slots of 16 bytes: the hints are static TLS (initial-exec), and every
// byte of the library's static TLS must fit the surplus glibc keeps for a
// dlopen of libcospace.so (64 slots took it from about 460 to 1,484 bytes).
constexpr std::size_t hint_slots = 16;
constexpr std::size_t max_inline_units = 255;  // inline_units is a byte: up to 4,080 bytes inline
[[gnu::tls_model("initial-exec")]] constinit thread_local size_hint t_hints[hint_slots]{};

// Heap blocks are sized to the slice, since memory per suspended fiber is
// the point: a block is asked for exactly the bytes it must hold beyond the
// inline area, and holds what malloc gives (its usable size, up to 15 bytes
// more). A slice that once went deep gets a smaller block at its first save
// that needs under a quarter of it.
std::size_t block_capacity(const slice& s) noexcept { return s.saved != nullptr ? malloc_usable_size(s.saved) : 0; }
std::size_t capacity_of(const slice& s) noexcept { return s.inline_bytes() + block_capacity(s); }

void ensure_capacity(slice& s, std::size_t needed) {
  const std::size_t in_block = needed > s.inline_bytes() ? needed - s.inline_bytes() : 0;
  const std::size_t capacity = block_capacity(s);
  const bool grow = in_block > capacity;
  const bool shrink = capacity > 4096 && in_block * 4 < capacity;
  if (!grow && !shrink) return;
  if (needed > UINT32_MAX) throw std::bad_alloc();  // saved_size is 32 bits
  if (in_block == 0) {  // everything fits inline now
    std::free(s.saved);
    s.saved = nullptr;
    return;
  }
  void* block = std::realloc(s.saved, in_block);
  if (block == nullptr) {
    if (grow) throw std::bad_alloc();
    return;  // keeping the larger block is fine
  }
  s.saved = static_cast<unsigned char*>(block);
}

// Copies between the stack at `at` and the saved sequence's bytes
// [offset, offset + size): the inline area holds its start, the block the rest.
void copy_out(slice& s, std::size_t offset, std::uintptr_t at, std::size_t size) noexcept {
  const std::size_t in_area = offset < s.inline_bytes() ? std::min(size, s.inline_bytes() - offset) : 0;
  if (in_area != 0) std::memcpy(s.inline_area() + offset, reinterpret_cast<const void*>(at), in_area);
  if (size > in_area)
    std::memcpy(s.saved + (offset + in_area - s.inline_bytes()), reinterpret_cast<const void*>(at + in_area),
                size - in_area);
}

void copy_back(const slice& s, std::uintptr_t at, std::size_t size) noexcept {
  const std::size_t in_area = std::min(size, s.inline_bytes());
  if (in_area != 0) std::memcpy(reinterpret_cast<void*>(at), s.inline_area(), in_area);
  if (size > in_area) std::memcpy(reinterpret_cast<void*>(at + in_area), s.saved, size - in_area);
}

// Extends s's saved prefix up to `stop` (exclusive).
void save_up_to(slice& s, std::uintptr_t stop) {
  const std::uintptr_t from = s.low() + s.saved_size;
  if (stop <= from) return;
  const std::size_t bytes = stop - from;
  ensure_capacity(s, stop - s.low());
  unpoison(from, bytes);
  copy_out(s, s.saved_size, from, bytes);
  s.saved_size = static_cast<std::uint32_t>(stop - s.low());
  if (s.hint_slot != 0) t_hints[s.hint_slot - 1].bytes = s.saved_size;
  t_counters.saves++;
  t_counters.bytes_saved += bytes;
}

}  // namespace

slice_counters& this_thread_slice_counters() noexcept { return t_counters; }

inline_plan plan_inline(const void* key) noexcept {
  const std::size_t index = (reinterpret_cast<std::uintptr_t>(key) >> 4) % hint_slots;
  size_hint& hint = t_hints[index];
  if (hint.key != key) {
    if (hint.key != nullptr) return {};
    hint.key = key;  // a new kind: no guess yet
  }
  inline_plan plan;
  plan.units = static_cast<std::uint8_t>(std::min<std::size_t>((hint.bytes + 15) / 16, max_inline_units));
  plan.slot = static_cast<std::uint8_t>(index + 1);
  return plan;
}

std::size_t live_below_handle() noexcept { return context::selected.live_below_handle; }

void slice_too_deep() noexcept {
  std::fputs("cospace: a sliced fiber or slice switched away more than 2 GiB from its stack's base; "
             "slices are limited to 2 GiB (use a region stack for deeper recursion)\n",
             stderr);
  std::abort();
}

void make_resident(slice& target) {
  shared_stack& stack = *target.stack;
  t_counters.switches_in++;
  bool copied = false;
  // Everything below target's base must be free for target: save it.
  for (slice** link = &stack.resident; *link != nullptr;) {
    slice& s = **link;
    if (&s == &target) {
      link = &s.next_resident;
      continue;
    }
    const std::uintptr_t stop = std::min(s.base, target.base);
    if (s.low() + s.saved_size < stop) {
      save_up_to(s, stop);
      copied = true;
    }
    if (std::int64_t{s.saved_size} >= s.depth) {  // low + saved_size >= base: nothing of s is left on the stack
      *link = s.next_resident;
      s.next_resident = nullptr;
      s.resident = false;
    } else {
      link = &s.next_resident;
    }
  }
  if (target.saved_size != 0) {
    // Whatever ran here last left its shadow state (ASan redzones, Valgrind
    // "below the stack pointer"); the bytes about to land are plain data.
    const std::uintptr_t low = target.low();
    forget_stack_poison(low, low + target.saved_size);
    copy_back(target, low, target.saved_size);
    t_counters.restores++;
    t_counters.bytes_restored += target.saved_size;
    target.saved_size = 0;  // the block stays: the next save will need about as much
    copied = true;
  }
  // Below target's live bytes lie dead frames of whoever ran here before
  // (fibers that ended or were unwound never ran their epilogues): clear
  // their shadow state down to the stack's used depth, so that target's
  // next frames are not taken for somebody's redzones. A no-op outside
  // ASan and Valgrind.
  if (stack.owner_region != nullptr) forget_stack_poison(stack.owner_region->zone_hi, target.low());
  if (!target.resident) {
    target.next_resident = stack.resident;
    stack.resident = &target;
    target.resident = true;
  }
  if (!copied) t_counters.copy_free++;
}

void drop_slice(slice& s) noexcept {
  if (s.resident) {
    for (slice** link = &s.stack->resident; *link != nullptr; link = &(*link)->next_resident) {
      if (*link == &s) {
        *link = s.next_resident;
        break;
      }
    }
    s.resident = false;
    s.next_resident = nullptr;
  }
  std::free(s.saved);
  s.saved = nullptr;
  s.saved_size = 0;
  s.inline_units = 0;  // the area itself goes with its owner's block
}

std::size_t slice_heap_bytes(const slice& s) noexcept { return capacity_of(s); }

const char* check_slices(const shared_stack& stack) noexcept {
  for (const slice* s = stack.resident; s != nullptr; s = s->next_resident) {
    if (!s->resident) return "a slice on the resident list is not marked resident";
    if (s->stack != &stack) return "a slice on the resident list belongs to another stack";
    if (s->saved_size > capacity_of(*s)) return "a slice claims more saved bytes than its block holds";
    const std::uintptr_t lo = s->low() + s->saved_size;
    for (const slice* t = s->next_resident; t != nullptr; t = t->next_resident) {
      const std::uintptr_t tlo = t->low() + t->saved_size;
      if (lo < t->base && tlo < s->base) return "the resident parts of two slices overlap";
    }
  }
  return nullptr;
}

}  // namespace cospace::detail
