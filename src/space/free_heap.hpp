// Regions ordered by the size of their free part: a binary max-heap whose
// entries record their own index, so that a region whose free part changed
// (split, grown into, merged) moves in O(log n). It never allocates once its
// capacity is reserved, so the fault handler may update it.
#pragma once

#include <cstddef>
#include <vector>

#include "region.hpp"

namespace cospace::detail {

class free_heap {
 public:
  void reserve(std::size_t n) { items_.reserve(n); }
  std::size_t capacity() const noexcept { return items_.capacity(); }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  region* largest() const noexcept { return items_.empty() ? nullptr : items_.front(); }

  bool holds(const region* r) const noexcept {
    return r->heap_index < items_.size() && items_[r->heap_index] == r;
  }

  void push(region* r) {
    r->heap_index = items_.size();
    items_.push_back(r);
    sift_up(r->heap_index);
  }

  void erase(region* r) noexcept {
    const std::size_t i = r->heap_index;
    region* last = items_.back();
    items_.pop_back();
    if (last == r) return;
    place(last, i);
    changed(last);
  }

  // Restores the order after r's free part changed size.
  void changed(region* r) noexcept {
    if (!sift_up(r->heap_index)) sift_down(r->heap_index);
  }

  // Every entry knows its index and no child outranks its parent.
  bool well_ordered() const noexcept {
    for (std::size_t i = 0; i < items_.size(); ++i) {
      if (items_[i]->heap_index != i) return false;
      if (i > 0 && key(items_[(i - 1) / 2]) < key(items_[i])) return false;
    }
    return true;
  }

 private:
  static std::size_t key(const region* r) noexcept { return r->free_bytes(); }

  void place(region* r, std::size_t i) noexcept {
    items_[i] = r;
    r->heap_index = i;
  }

  bool sift_up(std::size_t i) noexcept {
    region* r = items_[i];
    const std::size_t start = i;
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (key(items_[parent]) >= key(r)) break;
      place(items_[parent], i);
      i = parent;
    }
    place(r, i);
    return i != start;
  }

  void sift_down(std::size_t i) noexcept {
    region* r = items_[i];
    const std::size_t n = items_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && key(items_[child + 1]) > key(items_[child])) ++child;
      if (key(items_[child]) <= key(r)) break;
      place(items_[child], i);
      i = child;
    }
    place(r, i);
  }

  std::vector<region*> items_;
};

}  // namespace cospace::detail
