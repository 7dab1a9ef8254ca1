// A fiber's region heap as a std::pmr::memory_resource.
//
// Allocations bump down through the arena carved from the lower part of the
// fiber's own region (space_impl::arena_of); what does not fit goes to the
// upstream resource. Everything is freed in one step when the resource is
// destroyed (the fiber ends): the arena by releasing its region, upstream
// blocks by walking their list. deallocate() of an arena block is a no-op,
// as in std::pmr::monotonic_buffer_resource; of an upstream block it frees it.
#pragma once

#include <cstddef>
#include <memory_resource>

#include "region.hpp"

namespace cospace::detail {

class arena_resource final : public std::pmr::memory_resource {
 public:
  explicit arena_resource(region* owner,
                          std::pmr::memory_resource* upstream = std::pmr::new_delete_resource()) noexcept
      : owner_(owner), upstream_(upstream) {}
  arena_resource(const arena_resource&) = delete;
  arena_resource& operator=(const arena_resource&) = delete;
  ~arena_resource() override { release(); }

  // Frees every upstream block (the arena itself goes with its region).
  void release() noexcept;

  std::size_t arena_bytes() const noexcept { return arena_bytes_; }
  std::size_t upstream_bytes() const noexcept { return upstream_bytes_; }

 private:
  struct upstream_block {
    upstream_block* previous;
    upstream_block* next;
    std::size_t bytes;
    std::size_t alignment;
  };
  static constexpr std::size_t header_room(std::size_t alignment) noexcept {
    return (sizeof(upstream_block) + alignment - 1) / alignment * alignment;
  }

  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  region* owner_;
  std::pmr::memory_resource* upstream_;
  region* arena_ = nullptr;
  bool arena_refused_ = false;
  upstream_block* blocks_ = nullptr;
  std::size_t arena_bytes_ = 0;
  std::size_t upstream_bytes_ = 0;
};

}  // namespace cospace::detail
