// Blocks for task records: a per-thread cache of blocks of one size (most
// records with their callable fit), not the allocator each time. A block
// freed on one thread is reused there; a full cache moves, whole, to the
// process's spare batches (one compare-and-swap), and an empty one takes
// every spare batch (one exchange) before it asks the allocator. So a worker
// that only frees records (a thief running another worker's spawns) feeds
// one that only makes them (the spawner) without the allocator, whose
// cross-thread frees took the allocating thread's arena lock on every
// record: with 10^6 spawns on two workers that lock, its futex calls and the
// heap's growth were most of the time. Off under AddressSanitizer, which
// would no longer see a use after free of a record.
//
// free_record() is inline: every spawn and join ends in it (release_task).
#pragma once

#include <cstddef>
#include <new>

namespace cospace::detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool cache_records = false;
#else
inline constexpr bool cache_records = true;
#endif
inline constexpr std::size_t record_block = 512;
inline constexpr std::size_t record_alignment = 16;

// A list of free blocks: each block's first word links to the next. `tail`
// is kept by pushes onto an empty list only (pops leave it stale: a list
// emptied is refilled through a push or take_batches, which set it).
struct block_list {
  void* head = nullptr;
  void* tail = nullptr;
  unsigned count = 0;
};

// A thread's cache. Trivially destructible, so that its thread-local needs
// no guard on each use: its release at thread exit is registered by the
// first slow path (record_cache.cpp). Until then, and once the thread
// exits, `free.count` is `capacity`, so that every free takes the slow path.
struct record_cache {
  static constexpr unsigned capacity = 256;
  block_list free{nullptr, nullptr, capacity};
  bool registered = false;  // the thread-exit release is registered: `free` is in use
  bool exiting = false;     // records released from now on go to the allocator
};
[[gnu::tls_model("initial-exec")]] extern thread_local constinit record_cache t_records;

// Whether a block of `bytes` aligned to `alignment` comes from the cache.
inline bool cached_size(std::size_t bytes, std::size_t alignment) noexcept {
  return cache_records && bytes <= record_block && alignment <= record_alignment;
}

// An empty cache's allocation, or one not `cached`: from the spare
// batches, else from the allocator.
[[gnu::noinline]] void* allocate_record_slow(bool cached, std::size_t bytes, std::size_t alignment);

// A block of `bytes` aligned to `alignment`, `cached` if cached_size() said so.
[[gnu::always_inline]] inline void* allocate_record(bool cached, std::size_t bytes, std::size_t alignment) {
  block_list& l = t_records.free;
  if (!cached || l.head == nullptr) [[unlikely]]
    return allocate_record_slow(cached, bytes, alignment);
  void* const block = l.head;
  l.head = *static_cast<void**>(block);
  --l.count;
  return block;
}

inline void push_block(block_list& l, void* block) noexcept {
  *static_cast<void**>(block) = l.head;
  if (l.head == nullptr) l.tail = block;
  l.head = block;
  ++l.count;
}

// A full (or unregistered, or exiting) cache's free: the block goes to the
// allocator, or the cache is emptied or registered first, then takes it.
[[gnu::noinline]] void free_record_slow(void* block) noexcept;

// `alignment`: only read for a block that is not `cached`.
[[gnu::always_inline]] inline void free_record(void* block, bool cached, std::size_t alignment) noexcept {
  if (!cached) {
    ::operator delete(block, std::align_val_t{alignment});
    return;
  }
  block_list& l = t_records.free;
  if (l.count >= record_cache::capacity) [[unlikely]] {
    free_record_slow(block);
    return;
  }
  push_block(l, block);
}

}  // namespace cospace::detail
