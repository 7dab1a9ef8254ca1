// cospace::generator<T> — a range whose values a fiber body yields one at a
// time:
//
//   cospace::generator<int> g([](auto& out) { out.yield(1); out.yield(2); });
//   for (int v : g) ...;   // 1, 2
//
// The body runs on its own fiber (any fiber_options), so it may recurse to
// any depth between yields. Values are handed out by copy or move into the
// generator object, never by pointer into the fiber's stack: that stays
// correct even when the body's stack is sliced (saved to the heap while it
// is suspended). An exception escaping the body comes out of begin() or ++.
#pragma once

#include <cospace/fiber.hpp>
#include <cospace/slicing.hpp>

#include <concepts>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace cospace {

template <class T>
class generator {
  struct shared_state {
    std::optional<T> value;
  };

 public:
  // What the body receives: yield(v) hands v to the consumer and suspends.
  class yielder {
   public:
    void yield(const T& value) requires std::copy_constructible<T> {
      state_->value.emplace(value);
      this_fiber::yield();
    }
    void yield(T&& value) {
      state_->value.emplace(std::move(value));
      this_fiber::yield();
    }

   private:
    friend class generator;
    explicit yielder(shared_state* state) noexcept : state_(state) {}
    shared_state* state_;
  };

  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    T& operator*() const { return *owner_->state_->value; }
    T* operator->() const { return std::addressof(*owner_->state_->value); }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !owner_->state_->value.has_value(); }

   private:
    friend class generator;
    explicit iterator(generator* owner) : owner_(owner) {}
    generator* owner_ = nullptr;
  };

  template <class Body>
    requires std::invocable<Body&, yielder&>
  explicit generator(Body body, fiber_options options = {})
      : state_(std::make_unique<shared_state>()),
        fiber_(
            [state = state_.get(), body = std::move(body)]() mutable {
              yielder out(state);
              body(out);
            },
            options) {}

  generator(generator&&) noexcept = default;
  generator& operator=(generator&&) noexcept = default;

  // Runs the body to its first value (or its end).
  iterator begin() {
    if (!started_) {
      started_ = true;
      advance();
    }
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

  const cospace::fiber& fiber() const noexcept { return fiber_; }

 private:
  void advance() {
    state_->value.reset();
    if (!fiber_.done()) fiber_.resume();
    if constexpr (std::is_pointer_v<T>) {
      // The common slicing mistake, caught where it is cheap: a pointer to a
      // local of the (now suspended) body, whose bytes may be replaced by
      // another fiber's before the consumer reads through it.
      if (state_->value.has_value() && points_into_suspended_slice(*state_->value)) {
        state_->value.reset();
        throw fiber_error("cospace: a generator on a sliced stack yielded a pointer into its own "
                          "stack; the body is suspended now and those bytes may move to the heap: "
                          "yield values (copies), not pointers to locals");
      }
    }
  }

  std::unique_ptr<shared_state> state_;
  cospace::fiber fiber_;
  bool started_ = false;
};

}  // namespace cospace
