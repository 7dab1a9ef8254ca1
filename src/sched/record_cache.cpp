// The per-thread record caches and the process's spare batches
// (record_cache.hpp).
#include "record_cache.hpp"

#include <atomic>

namespace cospace::detail {

[[gnu::tls_model("initial-exec")]] constinit thread_local record_cache t_records;

namespace {

// Written into the first block of a list handed to the spare batches,
// after its link word: the list as a whole.
struct spare_batch {
  void* next_batch;
  void* tail;
  unsigned count;
};

// The spare batches: a stack pushed by compare-and-swap and emptied whole by
// exchange (no pop of one element, so no ABA). Never freed: blocks here are
// reachable, and reused by the next thread that makes records. At most
// `spare_limit` records wait here; beyond, a full cache frees its blocks.
std::atomic<void*> g_spare_batches{nullptr};
std::atomic<std::size_t> g_spare_records{0};
constexpr std::size_t spare_limit = 16384;  // 8 MiB of blocks

void release(block_list& l) noexcept {
  while (l.head != nullptr) {
    void* const next = *static_cast<void**>(l.head);
    ::operator delete(l.head, std::align_val_t{record_alignment});
    l.head = next;
  }
  l = {};
}

// Frees the thread's cache when the thread exits. Made (and so its
// destructor registered) by the first slow path of the thread's cache,
// before the cache holds any block.
struct thread_exit_release {
  ~thread_exit_release() {
    record_cache& c = t_records;
    c.exiting = true;
    release(c.free);
    c.free.count = record_cache::capacity;  // every free takes the slow path, which sees `exiting`
  }
};
thread_local thread_exit_release t_exit_release;

// Whether the thread's cache may take blocks: not once the thread exits.
// Registers its release at thread exit on first use.
bool usable(record_cache& c) noexcept {
  if (c.exiting) return false;
  if (!c.registered) {
    [[maybe_unused]] thread_exit_release& touched = t_exit_release;  // its destructor is registered now
    c.registered = true;
    c.free = {};
  }
  return true;
}

// Hands a full cache's list to the spare batches (or to the allocator, if
// enough wait there already).
void give_batch(block_list& l) noexcept {
  if (g_spare_records.load(std::memory_order_relaxed) >= spare_limit) {
    release(l);
    return;
  }
  g_spare_records.fetch_add(l.count, std::memory_order_relaxed);
  auto* const batch = reinterpret_cast<spare_batch*>(static_cast<void**>(l.head) + 1);
  batch->tail = l.tail;
  batch->count = l.count;
  void* top = g_spare_batches.load(std::memory_order_relaxed);
  do {
    batch->next_batch = top;
  } while (!g_spare_batches.compare_exchange_weak(top, l.head, std::memory_order_release, std::memory_order_relaxed));
  l = {};
}

// Takes every spare batch into an empty cache's list; false if there was none.
bool take_batches(block_list& l) noexcept {
  void* first = g_spare_batches.exchange(nullptr, std::memory_order_acquire);
  if (first == nullptr) return false;
  std::size_t taken = 0;
  l.head = first;  // the list is empty: its stale tail is not read
  for (bool more = false; first != nullptr; more = true) {
    const spare_batch batch = *reinterpret_cast<spare_batch*>(static_cast<void**>(first) + 1);
    if (more) *static_cast<void**>(l.tail) = first;
    l.tail = batch.tail;
    l.count += batch.count;
    taken += batch.count;
    first = batch.next_batch;
  }
  g_spare_records.fetch_sub(taken, std::memory_order_relaxed);
  return true;
}

}  // namespace

void* allocate_record_slow(bool cached, std::size_t bytes, std::size_t alignment) {
  if (!cached) return ::operator new(bytes, std::align_val_t{alignment});
  record_cache& c = t_records;
  block_list& l = c.free;
  if (usable(c) && take_batches(l)) {
    void* const block = l.head;
    l.head = *static_cast<void**>(block);
    --l.count;
    return block;
  }
  return ::operator new(record_block, std::align_val_t{record_alignment});
}

void free_record_slow(void* block) noexcept {
  record_cache& c = t_records;
  if (!usable(c)) {
    ::operator delete(block, std::align_val_t{record_alignment});
    return;
  }
  block_list& l = c.free;
  if (l.count >= record_cache::capacity) give_batch(l);
  push_block(l, block);
}

}  // namespace cospace::detail
