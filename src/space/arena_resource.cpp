#include "arena_resource.hpp"

#include <algorithm>
#include <cstdint>

#include "space_impl.hpp"

namespace cospace::detail {

void* arena_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
  if (bytes == 0) bytes = 1;
  if (arena_ == nullptr && !arena_refused_) {
    arena_ = owner_->space->arena_of(owner_);
    arena_refused_ = arena_ == nullptr;
  }
  if (arena_ != nullptr) {
    if (void* p = owner_->space->arena_allocate(arena_, bytes, alignment)) {
      arena_bytes_ += bytes;
      return p;
    }
  }
  alignment = std::max(alignment, alignof(upstream_block));
  const std::size_t room = header_room(alignment);
  auto* raw = static_cast<std::byte*>(upstream_->allocate(room + bytes, alignment));
  auto* block = reinterpret_cast<upstream_block*>(raw + room - sizeof(upstream_block));
  *block = upstream_block{nullptr, blocks_, bytes, alignment};
  if (blocks_ != nullptr) blocks_->previous = block;
  blocks_ = block;
  upstream_bytes_ += bytes;
  return raw + room;
}

void arena_resource::do_deallocate(void* p, std::size_t bytes, std::size_t) {
  if (p == nullptr) return;
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if (arena_ != nullptr && address >= arena_->lo && address < arena_->hi) return;  // monotonic
  auto* block = reinterpret_cast<upstream_block*>(static_cast<std::byte*>(p) - sizeof(upstream_block));
  if (block->previous != nullptr) block->previous->next = block->next;
  else blocks_ = block->next;
  if (block->next != nullptr) block->next->previous = block->previous;
  const std::size_t room = header_room(block->alignment);
  upstream_bytes_ -= bytes;
  upstream_->deallocate(static_cast<std::byte*>(p) - room, room + block->bytes, block->alignment);
}

void arena_resource::release() noexcept {
  while (blocks_ != nullptr) {
    upstream_block* block = blocks_;
    blocks_ = block->next;
    const std::size_t room = header_room(block->alignment);
    std::byte* start = reinterpret_cast<std::byte*>(block) + sizeof(upstream_block) - room;
    upstream_->deallocate(start, room + block->bytes, block->alignment);
  }
  upstream_bytes_ = 0;
}

}  // namespace cospace::detail
