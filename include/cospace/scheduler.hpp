// cospace::scheduler — runs spawned fibers on one or more worker threads
// (docs/scheduler.md). A fiber blocks on a channel, a lock, a sleep or a
// socket by parking: its worker runs other fibers meanwhile, and idle
// workers sleep in the kernel.
//
//   cospace::scheduler s;                       // one worker per core
//   auto t = s.spawn([] { return 6 * 7; });
//   int answer = t.join();                      // rethrows what the fiber threw
//
// Threads. A fiber that has started stays on its worker's thread (compilers
// cache the addresses of thread-local variables, errno included, across a
// switch) unless it was spawned with spawn_options::migrate; fibers that have
// not started yet may be stolen by any idle worker; sliced fibers never move.
#pragma once

#include <cospace/config.h>
#include <cospace/fiber.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace cospace {

// The scheduler used the wrong way: join twice, spawn after shutdown, a
// blocking call where none can block, and so on. The message names the mistake.
class COSPACE_API scheduler_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// join() of a fiber that shutdown unwound (or discarded before it started).
class COSPACE_API fiber_cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct scheduler_options {
  // Worker threads. 0: one per core (std::thread::hardware_concurrency()).
  // 1 is the single-threaded mode: every fiber runs on the one worker.
  unsigned threads = 0;
  // Rounds an idle worker looks for work (its queue, stealing) before it
  // sleeps in the kernel. Each round is a few hundred nanoseconds; 0 never spins.
  unsigned idle_spins = 64;
};

// What the workers did while they had no work, since the scheduler started
// (scheduler::idle_stats(); counted with relaxed atomics, off every hop's
// path: only where a worker sleeps or is woken in the kernel).
struct scheduler_idle_stats {
  // Times a worker announced it would sleep (in a futex wait, or in
  // epoll_wait when it takes the poller role) after finding no work.
  std::uint64_t sleeps = 0;
  // System calls made to wake a sleeping worker (futex wakes and poller
  // interrupts). At most one per sleep: never more than `sleeps`.
  std::uint64_t wake_calls = 0;
};

struct spawn_options {
  fiber_options fiber = {};  // the fiber's stack kind, name, ...
  // After it starts, the fiber may be resumed on another worker's thread.
  // Only for code that keeps no thread-local addresses across a switch.
  // Refused for sliced fibers.
  bool migrate = false;
};

using clock = std::chrono::steady_clock;

class scheduler;

namespace detail {
class task_record;
class scheduler_impl;

// How the library runs, discards and destroys a spawned body it does not
// know the type of (the body lives in the task record's trailing storage).
struct task_body_ops {
  void (*run)(void* body);                        // runs the callable, stores its result, destroys the callable
  void (*discard)(void* body) noexcept;           // destroys a callable that never ran
  void (*destroy)(void* body) noexcept;           // destroys what remains (the result)
  void* (*construct)(void* where, void* source);  // moves/copies the callable into place
  std::size_t size;
  std::size_t alignment;
};

COSPACE_API task_record* spawn_task(scheduler_impl* on, const spawn_options& options, const task_body_ops& ops,
                                    void* source);
COSPACE_API void* body_of(task_record* task) noexcept;
// Waits for the task to end; rethrows its exception, or throws fiber_cancelled.
COSPACE_API void join_task(task_record* task);
COSPACE_API bool task_done(const task_record* task) noexcept;
COSPACE_API std::uint64_t task_id(const task_record* task) noexcept;
COSPACE_API void release_task(task_record* task) noexcept;
// The scheduler of the running fiber, or nullptr outside a scheduled fiber.
COSPACE_API scheduler_impl* current_scheduler() noexcept;
COSPACE_API void sleep_until(clock::time_point deadline);

template <class R>
struct task_result {
  std::optional<R> value;
  template <class F>
  void run(F& fn) { value.emplace(std::invoke(fn)); }
  R take() { return std::move(*value); }
};
template <>
struct task_result<void> {
  template <class F>
  void run(F& fn) { std::invoke(fn); }
  void take() {}
};

template <class F, class R>
struct task_body {
  std::optional<F> fn;
  task_result<R> result;

  static const task_body_ops& ops() noexcept {
    static constexpr task_body_ops table{
        [](void* b) {
          auto* body = static_cast<task_body*>(b);
          struct drop_callable {  // the callable goes when it returns, throws or is unwound
            std::optional<F>& fn;
            ~drop_callable() { fn.reset(); }
          } drop{body->fn};
          body->result.run(*body->fn);
        },
        [](void* b) noexcept { static_cast<task_body*>(b)->fn.reset(); },
        [](void* b) noexcept { static_cast<task_body*>(b)->~task_body(); },
        [](void* where, void* source) -> void* {
          auto* body = ::new (where) task_body();
          body->fn.emplace(std::move(*static_cast<F*>(source)));
          return body;
        },
        sizeof(task_body), alignof(task_body)};
    return table;
  }
};
}  // namespace detail

// The handle of a spawned fiber. Move-only. join() waits for the fiber (a
// fiber calling it parks; a thread blocks) and returns its result or rethrows
// its exception; it may be called once. Destroying a handle that was not
// joined detaches the fiber: it runs on, and its result is dropped.
template <class T = void>
class task {
 public:
  task() noexcept = default;
  task(task&& other) noexcept : record_(std::exchange(other.record_, nullptr)), take_(other.take_) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      detach();
      record_ = std::exchange(other.record_, nullptr);
      take_ = other.take_;
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { detach(); }

  // Throws scheduler_error when there is nothing to join (empty, detached or
  // already joined), fiber_cancelled when shutdown unwound the fiber.
  T join() {
    if (record_ == nullptr)
      throw scheduler_error("cospace: join() of an empty task (never spawned, detached or already joined)");
    detail::task_record* const record = std::exchange(record_, nullptr);
    struct release {
      detail::task_record* r;
      ~release() { detail::release_task(r); }
    } guard{record};
    detail::join_task(record);
    return take_(detail::body_of(record));
  }

  bool joinable() const noexcept { return record_ != nullptr; }
  bool done() const noexcept { return record_ != nullptr && detail::task_done(record_); }
  std::uint64_t id() const noexcept { return record_ != nullptr ? detail::task_id(record_) : 0; }
  void detach() noexcept {
    if (record_ != nullptr) detail::release_task(std::exchange(record_, nullptr));
  }

 private:
  friend class scheduler;
  using take_fn = T (*)(void* body);
  task(detail::task_record* record, take_fn take) noexcept : record_(record), take_(take) {}

  detail::task_record* record_ = nullptr;
  take_fn take_ = nullptr;  // knows the body's type, which the handle's does not
};

class COSPACE_API scheduler {
 public:
  // Starts the worker threads.
  explicit scheduler(const scheduler_options& options = {});
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;
  // shutdown(), then the workers are joined.
  ~scheduler();

  // Queues `fn` to run in a new fiber; from a thread, or from a fiber of any
  // scheduler. Throws scheduler_error after shutdown began. The fiber (and
  // its stack) is made when a worker first runs it; if that fails (bad
  // fiber options: fiber_error; no stack: space_error) the task ends with
  // that exception, which join() rethrows.
  template <std::invocable F>
  auto spawn(F&& fn, spawn_options options = {}) {
    return make_task(impl_, std::forward<F>(fn), options);
  }

  // Lets every runnable fiber run until none is runnable, then unwinds each
  // fiber still blocked (on a channel, a lock, a sleep, a socket or a join):
  // forced_unwind runs every destructor on its stack, and a join() of it
  // throws fiber_cancelled. Fibers spawned but not started are discarded.
  // Waits for all that; later spawns throw. Idempotent. Throws
  // scheduler_error from one of this scheduler's own fibers.
  void shutdown();

  unsigned threads() const noexcept;
  // How often the workers slept and were woken: for tuning idle_spins, and
  // for seeing whether a program pays system calls for want of work.
  scheduler_idle_stats idle_stats() const noexcept;
  // The scheduler of the running fiber; nullptr outside a scheduled fiber.
  static scheduler* current() noexcept;

  template <class F>
  static auto make_task(detail::scheduler_impl* on, F&& fn, const spawn_options& options) {
    using callable = std::decay_t<F>;
    using result = std::invoke_result_t<callable&>;
    static_assert(!std::is_reference_v<result>, "cospace: a spawned function must not return a reference");
    using body = detail::task_body<callable, result>;
    callable source(std::forward<F>(fn));
    detail::task_record* record = detail::spawn_task(on, options, body::ops(), std::addressof(source));
    return task<result>(record, [](void* b) -> result { return static_cast<body*>(b)->result.take(); });
  }

 private:
  friend class detail::scheduler_impl;
  detail::scheduler_impl* impl_;
};

// Spawns on the running fiber's scheduler (scheduler_error outside one).
template <class F>
auto spawn(F&& fn, spawn_options options = {}) {
  detail::scheduler_impl* on = detail::current_scheduler();
  if (on == nullptr) throw scheduler_error("cospace: spawn() outside a scheduled fiber (use scheduler::spawn)");
  return scheduler::make_task(on, std::forward<F>(fn), options);
}

namespace this_fiber {
// Parks the running scheduled fiber until the time has come (a thread
// outside any scheduler sleeps instead). Resolution: the scheduler's timers
// are checked whenever a worker looks for work, and an idle worker sleeps
// exactly until the earliest one.
inline void sleep_until(clock::time_point deadline) { detail::sleep_until(deadline); }
template <class Clock, class Duration>
void sleep_until(std::chrono::time_point<Clock, Duration> deadline) {
  detail::sleep_until(clock::now() + (deadline - Clock::now()));
}
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> duration) {
  const auto now = clock::now();
  const auto span = std::chrono::duration_cast<clock::duration>(duration);
  detail::sleep_until(span >= clock::time_point::max() - now ? clock::time_point::max() : now + span);
}
}  // namespace this_fiber

}  // namespace cospace
