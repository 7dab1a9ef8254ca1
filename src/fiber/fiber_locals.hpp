// The values of cospace::fiber_local variables held by one fiber (or one
// thread): a vector indexed by key, made on first use.
#pragma once

#include <cstddef>
#include <vector>

namespace cospace::detail {

class fiber_locals {
 public:
  fiber_locals() = default;
  fiber_locals(const fiber_locals&) = delete;
  fiber_locals& operator=(const fiber_locals&) = delete;
  ~fiber_locals() { clear(); }

  void*& slot(std::size_t key, void (*destroy)(void*)) {
    if (key >= values_.size()) values_.resize(key + 1);
    entry& e = values_[key];
    e.destroy = destroy;
    return e.value;
  }

  // Destroys every value, newest key first (a value's destructor may use
  // other fiber-locals, made earlier).
  void clear() noexcept {
    for (std::size_t i = values_.size(); i-- > 0;) {
      entry& e = values_[i];
      if (e.value != nullptr) {
        void* value = e.value;
        e.value = nullptr;
        e.destroy(value);
      }
    }
    values_.clear();
  }

 private:
  struct entry {
    void* value = nullptr;
    void (*destroy)(void*) = nullptr;
  };
  std::vector<entry> values_;
};

}  // namespace cospace::detail
