// cospace::fiber_context — the symmetric context of the C++ proposal P0876
// (std::fiber_context) and of Boost.Context's boost::context::fiber, on cospace
// stacks: a region of a space by default, so no stack size is ever guessed.
//
//   cospace::fiber_context f{[](cospace::fiber_context&& caller) {
//     caller = std::move(caller).resume();   // back to main, and later here again
//     return std::move(caller);              // ends; `caller` continues
//   }};
//   f = std::move(f).resume();               // runs f until it resumes us
//   f = std::move(f).resume();               // f ends: f is now empty
//
// A fiber_context names one suspended context and is consumed by resuming it:
// resume() && leaves the handle empty and returns, when something resumes the
// caller again, the handle of whoever did (empty if that context ended).
// Semantics, differences from Boost and migration: docs/migrating.md.
#pragma once

#include <cospace/config.h>
#include <cospace/context.h>
#include <cospace/fiber.hpp>

#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace cospace {

class fiber_context;

namespace detail {

// What the library saves for a context while it is suspended (the context
// itself, its C++ exception state, the region it runs on, the thread, what
// the sanitizers need). It lives in the frame of the resume() call that
// suspended the context, so switching allocates nothing. A handle is a
// pointer to one; words[0] is the context, every other word is the
// library's (src/fiber_context/record.hpp checks the layout).
struct alignas(16) fiber_context_record_storage {
  void* words[16];
};

// How to place, run and destroy an entry of one type. run() calls the entry
// with the context that resumed it (*from) and returns the context the entry
// returned; whatever the entry left of its argument is handed back in *from,
// even when it throws, so the library decides what becomes of it.
struct fiber_context_body_ops {
  void* (*run)(void* body, void** from);
  void (*destroy)(void* body) noexcept;
  void* (*construct)(void* where, void* source);  // moves/copies the entry into place
  std::size_t size;
  std::size_t alignment;
};

// resume_with's function, run on top of the resumed context.
using fiber_context_ontop = void* (*)(void* fn, void* from);

// Handles are record pointers (null: empty). resume consumes *handle (leaving
// it null) and returns {context, record} of whoever next resumes the caller
// (both null if that context ended); adopt() turns that into a handle.
COSPACE_API void* create_fiber_context(const fiber_options& options, const fiber_context_body_ops& ops,
                                       void* source);
COSPACE_API cospace_transfer resume_fiber_context(void** handle, fiber_context_record_storage* caller);
COSPACE_API cospace_transfer resume_fiber_context_with(void** handle, fiber_context_record_storage* caller,
                                                       fiber_context_ontop fn, void* fn_object);
COSPACE_API void destroy_fiber_context(void* handle) noexcept;
COSPACE_API bool fiber_context_can_resume(const void* handle) noexcept;

// The resumer's record learns its context here, on the resumed side: the
// resumer could not know it before it jumped.
inline void* adopt(cospace_transfer t) noexcept {
  if (t.data != nullptr) static_cast<fiber_context_record_storage*>(t.data)->words[0] = t.from;
  return t.data;
}

}  // namespace detail

class fiber_context {
 public:
  // An empty context: resuming it is a fiber_error.
  fiber_context() noexcept = default;

  // A context that, on its first resume, calls entry(context that resumed it)
  // on a stack of its own; entry returns the context to continue with, which
  // is resumed as this one ends. The entry is moved (or copied) to the top of
  // the new stack (to the heap if larger than 8 KiB). The stack is a region of
  // space::global() unless `options` says otherwise (stack_kind::fixed, a
  // space of its own, a name shown in diagnostics, a max_stack).
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, fiber_context>)
  explicit fiber_context(F&& entry) : fiber_context(std::forward<F>(entry), fiber_options{}) {}

  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, fiber_context>)
  fiber_context(F&& entry, const fiber_options& options)
      : record_(detail::create_fiber_context(
            options, ops_for<F>(), const_cast<void*>(static_cast<const void*>(std::addressof(entry))))) {}

  // A context still suspended is unwound: cospace::forced_unwind is thrown
  // inside it, every destructor on its stack runs, and this destructor
  // returns when it has ended. A context that never ran is simply released.
  ~fiber_context() {
    if (record_ != nullptr) detail::destroy_fiber_context(record_);
  }

  fiber_context(fiber_context&& other) noexcept : record_(std::exchange(other.record_, nullptr)) {}
  fiber_context& operator=(fiber_context&& other) noexcept {
    if (this != &other) {
      void* const old = std::exchange(record_, std::exchange(other.record_, nullptr));
      if (old != nullptr) detail::destroy_fiber_context(old);
    }
    return *this;
  }
  fiber_context(const fiber_context&) = delete;
  fiber_context& operator=(const fiber_context&) = delete;

  // Suspends the caller and resumes this context (this handle becomes empty).
  // Returns when some context resumes the caller: its handle, or an empty one
  // if it resumed the caller by ending. Throws fiber_error, leaving this handle
  // as it was, when it is empty or was suspended on another thread; also
  // throws what a resume_with function run on top of the caller threw, and
  // forced_unwind when the caller's own handle is destroyed meanwhile.
  fiber_context resume() && {
    detail::fiber_context_record_storage caller;
    return fiber_context(detail::adopt(detail::resume_fiber_context(&record_, &caller)));
  }

  // Like resume(), but first calls fn(context that resumed it) on top of this
  // context; fn's result is what this context's pending resume() returns (or,
  // if it never ran, what its entry receives). An exception thrown by fn comes
  // out of that pending resume().
  template <class Fn>
  fiber_context resume_with(Fn&& fn) && {
    detail::fiber_context_record_storage caller;
    return fiber_context(detail::adopt(detail::resume_fiber_context_with(
        &record_, &caller, &ontop_for<Fn>, const_cast<void*>(static_cast<const void*>(std::addressof(fn))))));
  }

  // Not empty, and resumable from this thread (a context that has run stays
  // on the thread it was suspended on).
  bool can_resume() const noexcept { return record_ != nullptr && detail::fiber_context_can_resume(record_); }
  explicit operator bool() const noexcept { return record_ != nullptr; }
  bool empty() const noexcept { return record_ == nullptr; }
  void swap(fiber_context& other) noexcept { std::swap(record_, other.record_); }
  friend void swap(fiber_context& a, fiber_context& b) noexcept { a.swap(b); }

 private:
  explicit fiber_context(void* record) noexcept : record_(record) {}
  void* release() noexcept { return std::exchange(record_, nullptr); }

  template <class F>
  static const detail::fiber_context_body_ops& ops_for() noexcept {
    using B = std::decay_t<F>;
    static_assert(std::is_invocable_r_v<fiber_context, B&, fiber_context&&>,
                  "a fiber_context's entry must be callable as fiber_context(fiber_context&&)");
    static constexpr detail::fiber_context_body_ops ops{
        [](void* body, void** from) -> void* {
          struct hand_back {
            fiber_context argument;
            void** to;
            ~hand_back() { *to = argument.release(); }
          } held{fiber_context(std::exchange(*from, nullptr)), from};
          return fiber_context(std::invoke(*static_cast<B*>(body), std::move(held.argument))).release();
        },
        [](void* body) noexcept { static_cast<B*>(body)->~B(); },
        [](void* where, void* source) -> void* {
          return ::new (where) B(std::forward<F>(*static_cast<std::remove_reference_t<F>*>(source)));
        },
        sizeof(B), alignof(B)};
    return ops;
  }

  template <class Fn>
  static void* ontop_for(void* fn, void* from) {
    static_assert(std::is_invocable_r_v<fiber_context, Fn, fiber_context&&>,
                  "resume_with's function must be callable as fiber_context(fiber_context&&)");
    return fiber_context(std::invoke(std::forward<Fn>(*static_cast<std::remove_reference_t<Fn>*>(fn)),
                                     fiber_context(from)))
        .release();
  }

  void* record_ = nullptr;  // the suspended context's record (null: empty)
};

}  // namespace cospace
