// cospace::fiber_local<T> — a variable with one instance per fiber, the way
// thread_local has one per thread. Each fiber's instance is default-made on
// its first use and destroyed when the fiber ends; code running on a
// thread's own stack (no fiber) gets a per-thread instance.
//
//   static cospace::fiber_local<int> depth;
//   ++*depth;   // this fiber's counter
#pragma once

#include <cospace/config.h>

#include <cstddef>

namespace cospace {

namespace detail {
// A new key (keys are never reused).
COSPACE_API std::size_t new_fiber_local_key() noexcept;
// The running fiber's (or thread's) slot for `key`; `destroy` is remembered
// for the value placed there.
COSPACE_API void*& fiber_local_slot(std::size_t key, void (*destroy)(void*));
}  // namespace detail

template <class T>
class fiber_local {
 public:
  fiber_local() noexcept : key_(detail::new_fiber_local_key()) {}
  fiber_local(const fiber_local&) = delete;
  fiber_local& operator=(const fiber_local&) = delete;

  T& get() {
    void*& slot = detail::fiber_local_slot(key_, &destroy);
    if (slot == nullptr) slot = new T();
    return *static_cast<T*>(slot);
  }
  T& operator*() { return get(); }
  T* operator->() { return &get(); }

 private:
  static void destroy(void* value) { delete static_cast<T*>(value); }
  std::size_t key_;
};

}  // namespace cospace
