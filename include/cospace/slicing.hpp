// Stack slicing (stack_kind::sliced): settings and counters of the calling
// thread. See docs/design.md ("Stack slicing") for how it works.
//
// The rule for users: while a sliced fiber is suspended, its stack bytes may
// be in the heap and other fibers' bytes in their place. Never hand another
// fiber a pointer or reference to a local of a sliced fiber and let it be
// used while that fiber is suspended: pass values (copy or move them into
// memory that does not move: the heap, a global, the receiver's own frame
// while it runs). cospace::generator<T> follows this rule. Pointers a sliced
// fiber keeps into its own stack stay valid: its bytes always come back to
// the same addresses.
#pragma once

#include <cospace/config.h>

#include <cstddef>
#include <cstdint>

namespace cospace {

struct slicing_options {
  // Shared stacks per thread. Fibers are spread over them round-robin, so a
  // deep fiber only makes the fibers on its own stack copy more.
  std::size_t shared_stacks = 4;
  // The limit of each shared stack; 0: the space's default (1 GiB). A slice
  // deeper than this is a stack overflow, reported like a region fiber's.
  std::size_t max_stack = 0;
};

// Applies to sliced fibers made on the calling thread from now on; fibers
// made before keep the stacks they have. Throws fiber_error when
// shared_stacks is 0 or above 64.
COSPACE_API void configure_slicing(const slicing_options& options);
COSPACE_API slicing_options slicing_configuration() noexcept;

struct slicing_statistics {
  std::uint64_t saves = 0;           // slices (or parts of them) copied to the heap
  std::uint64_t restores = 0;        // slices copied back to their stack
  std::uint64_t bytes_saved = 0;
  std::uint64_t bytes_restored = 0;
  std::uint64_t switches_in = 0;     // sliced switches (into a slice)
  std::uint64_t copy_free = 0;       // ... that found the slice already in place
};

// The calling thread's counters since it started.
COSPACE_API slicing_statistics slicing_stats() noexcept;

// Debug aid: true when `address` lies in a shared stack of the calling thread
// below the running fiber's live area, i.e. in bytes that may belong to a
// suspended sliced fiber. Cheap (a few comparisons); cospace's own types
// assert it where a pointer crosses between fibers.
COSPACE_API bool points_into_suspended_slice(const void* address) noexcept;

}  // namespace cospace
