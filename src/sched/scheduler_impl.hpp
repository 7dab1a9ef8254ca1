// The scheduler's records: tasks, workers and the scheduler itself
// (docs/scheduler.md has the diagrams and the invariants).
#pragma once

#include <cospace/fiber.hpp>
#include <cospace/scheduler.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fiber/fiber_control.hpp"
#include "fiber/fiber_stack.hpp"
#include "lock.hpp"
#include "wait.hpp"

namespace cospace::detail {

class worker;
class scheduler_impl;

// Where a task is in the park protocol (see park() in scheduler.cpp).
enum class park_state : std::uint32_t {  // 32-bit: RISC-V has no inline byte-sized atomic exchange
  running,   // not parked: running, or switching out of park() and not committed yet
  parked,    // committed (off its stack, off every run queue): only an unpark brings it back
  notified,  // unparked before its park was committed: it runs again at once
};

class task_record {
 public:
  // Its options are the defaults but for the name (a region stack of the
  // global space, no size limits): see `reusable`.
  static bool reusable_options(const spawn_options& options) noexcept {
    return options.fiber.stack == stack_kind::region && options.fiber.space == nullptr &&
           options.fiber.max_stack == 0 && options.fiber.fixed_size == 0 &&
           options.fiber.name.size() <= max_fiber_name;
  }

  // The record heads a block: then its callable at `body`, then
  // (a task that is not reusable only) a copy of its fiber options at
  // `full_options`, then (if it has a name) a copy of the name and a NUL at
  // `name_copy` (the caller's text may not outlive the spawn; a reused fiber
  // shows this copy as its name).
  task_record(scheduler_impl* on, const task_body_ops& body_ops, const spawn_options& options, void* body,
              cospace::fiber_options* full_options, char* name_copy, bool cached)
      : sched(on), ops(&body_ops), body_(body), full_options_(full_options), cached_block(cached),
        migratable(options.migrate), sliced(options.fiber.stack == stack_kind::sliced),
        reusable(full_options == nullptr) {
    if (!options.fiber.name.empty()) {
      options.fiber.name.copy(name_copy, options.fiber.name.size());
      name_copy[options.fiber.name.size()] = '\0';
      name = std::string_view(name_copy, options.fiber.name.size());
    }
    if (full_options != nullptr) {
      ::new (full_options) cospace::fiber_options(options.fiber);
      full_options->name = name;
    }
  }

  void* body() const noexcept { return body_; }
  // The options its fiber is made with (the name: the record's copy).
  cospace::fiber_options options() const noexcept {
    if (full_options_ != nullptr) return *full_options_;
    cospace::fiber_options defaults;
    defaults.name = name;
    return defaults;
  }

  std::atomic<int> refs{2};  // the handle and the scheduler
  scheduler_impl* const sched;
  const task_body_ops* const ops;
  void* const body_;                             // the callable (then its result), in the block
  cospace::fiber_options* const full_options_;  // in the block; nullptr: reusable (the defaults, `name`)
  const bool cached_block;  // from the per-thread cache of blocks (record_cache.hpp)
  // Made when the task first runs, on the worker that runs it (so a task
  // not started yet is only this record, and its stack comes warm from
  // the fibers that just ended there).
  cospace::fiber fiber;
  std::uint64_t fiber_id = 0;  // fiber.id(), kept at hand
  std::uint64_t id = 0;

  // Scheduling; touched by the worker that runs or queues it.
  const bool migratable;
  const bool sliced;
  // Its options are the defaults but for the name (reusable_options): it
  // may run in a fiber that ran other tasks before (worker::idle), and its
  // own fiber may run others after it.
  const bool reusable;
  bool started = false;
  // Its body is over and its fiber, fit for another task, has been let go
  // (it is suspended at the top of its loop, task_fiber_body): whoever
  // runs next on the worker keeps the fiber (keep_fiber). Or the fiber
  // ended after all (no room to keep it): finish() then does not complete
  // the task again.
  bool job_ended = false;
  bool parking = false;    // park() is switching out to the worker loop; read by it
  // Suspended inside park() (not in a plain this_fiber::yield()): when woken
  // it continues in park(), which settles a handoff (see park()), so another
  // fiber may switch straight to it.
  bool waits_in_park = false;
  bool unwinding = false;  // shutdown is destroying its fiber
  std::atomic<park_state> park{park_state::running};
  worker* home = nullptr;  // the worker it runs on (set when it starts)
  task_record* next = nullptr;  // run queue link
  std::uint64_t stamp = 0;      // run queue order
  task_record* reg_prev = nullptr;  // the home worker's list of started tasks
  task_record* reg_next = nullptr;

  // Completion, without a lock: `completion` is 0 (not finished, no
  // joiner), `task_finished`, or the address of the joiner's waiter. The
  // joiner publishes its waiter with a compare-and-swap from 0; the task's
  // end exchanges in `task_finished` and claims the waiter it took, which it
  // touches last, after waking the joiner, with a release store of
  // `claimed` (a joiner that shutdown unwinds waits for that before its
  // waiter goes, and so before its record may be freed). Plain stores instead
  // where only one thread can touch the word (join_task,
  // finish_claiming_joiner). `cancelled` and `error` are written before it
  // is published.
  static constexpr std::uintptr_t task_finished = 1;  // no waiter's address
  std::atomic<std::uintptr_t> completion{0};
  // The worker of the joiner if it is a fiber pinned there (nullptr: a
  // thread, or a migratable fiber), written before its waiter is published.
  // Compared by the task's end, never dereferenced: it reads neither the
  // waiter, which a joiner unwound elsewhere may take back meanwhile, nor
  // the joiner's record, which that joiner's scheduler (another one,
  // shutting down at the same time) may have freed by then. (Two live
  // workers never share an address, so a match is the joiner's worker.)
  const worker* joiner_home = nullptr;
  bool cancelled = false;
  std::exception_ptr error;
  // Its end found its joiner parked on the same worker, pinned there: the
  // handle is then held by a fiber that only this thread runs, so the
  // scheduler drops its reference with a plain store (refs 2 -> 1) and the
  // joiner frees the record (worker::drop_ref). Written and read by that
  // worker's thread only.
  bool joiner_here = false;

  std::string_view name;  // in the record's own block

  // Started, not migratable (or sliced): it runs on its home worker only.
  bool pinned() const noexcept { return started && (!migratable || sliced); }
};

// A FIFO of tasks linked through task_record::next.
class task_queue {
 public:
  // `from_owner`: pushed by the worker's own thread, which is not asleep.
  void push(task_record* t, bool from_owner = false) noexcept {
    t->next = nullptr;
    if (tail_ != nullptr) tail_->next = t;
    else head_ = t;
    tail_ = t;
    // seq_cst: a worker about to sleep publishes `sleeping`, then reads this;
    // a pusher publishes this, then reads `sleeping` (worker::wake).
    const std::size_t n = size_.load(std::memory_order_relaxed) + 1;
    if (from_owner) size_.store(n, std::memory_order_relaxed);
    else size_.store(n, std::memory_order_seq_cst);
  }
  task_record* pop() noexcept {
    task_record* t = head_;
    if (t == nullptr) return nullptr;
    head_ = t->next;
    if (head_ == nullptr) tail_ = nullptr;
    size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    return t;
  }
  task_record* front() const noexcept { return head_; }
  // Read without the owner's lock, as a hint only.
  std::size_t size_hint() const noexcept { return size_.load(std::memory_order_relaxed); }
  std::size_t size_seq_cst() const noexcept { return size_.load(std::memory_order_seq_cst); }

 private:
  task_record* head_ = nullptr;
  task_record* tail_ = nullptr;
  std::atomic<std::size_t> size_{0};
};

enum class sleep_mode : std::uint32_t { awake, futex, poller };

// Which tasks not started yet take_for_handoff() may return: only reusable
// ones that need no fiber made (that would happen on the caller's stack).
enum class fresh_tasks {
  cached_fiber,  // if the worker's idle cache has a fiber to give it
  this_fiber,    // unprepared: the caller's fiber will run it (pass_fiber)
};

class worker {
 public:
  worker(scheduler_impl* on, unsigned i, bool only) : sched(on), index(i), alone(only), rng(0x9e3779b9u * (i + 1)) {}

  void run() noexcept;
  // park()'s direct handoff: takes the next task of this worker's queues if
  // the running fiber may switch straight to it (it is started, not sliced,
  // and resumes in park(); or not started, if `fresh` allows). nullptr: go
  // through the worker loop.
  inline task_record* take_for_handoff(fresh_tasks fresh) noexcept;
  // The running fiber has just claimed (woken) the waiter of task `t`: if
  // the worker would run `t` next anyway, takes it for a direct switch,
  // without the run queue (e.g. a finished task's joiner). nullptr: wake it
  // as usual. Inline into its one caller (next_job, scheduler.cpp).
  [[gnu::always_inline]] inline task_record* take_woken(task_record* t) noexcept;
  // Commits the park of the task that handed this worker over to the running
  // fiber, or defers that commit (`uncommitted`), or keeps its fiber if its
  // job had ended; if any. Called by every fiber as soon as it runs again.
  inline void settle_handoff() noexcept;
  task_record* handed_over = nullptr;  // the task whose park (or end) awaits settling
  // A pinned task that switched out of park() here, whose commit is put off
  // until the fiber now running on this worker switches away (the next
  // settle_handoff(), a handoff taken from the queues (take_for_handoff,
  // take_woken), or the loop: commit_deferred()). Only this worker can run
  // it, and it is busy until then, so a wake from another thread loses no
  // time (the commit fails and queues it, before any task queued later is
  // taken); a wake from this thread, the
  // common case (a ping-pong partner, a joined task ending), just queues it
  // (unpark(), take_woken()): no compare-and-swap at all. Its thread only.
  task_record* uncommitted = nullptr;
  inline void defer_commit(task_record* t) noexcept;
  inline void commit_deferred() noexcept;

  // Fibers whose task ended, kept (suspended at the top of their loop) for
  // the next reusable task that starts here, instead of a new fiber each
  // time. Bounded, and emptied before the worker sleeps and when it stops,
  // so they pin memory only while the worker is busy (space::trim() of an
  // idle scheduler's space finds their regions parked). Its thread only.
  static constexpr unsigned idle_capacity = 16;
  cospace::fiber idle[idle_capacity];
  unsigned idle_count = 0;
  // The running fiber's task `ended` is over; `next` (not started) runs in
  // the same fiber next, without a switch.
  void pass_fiber(task_record* ended, task_record* next) noexcept;
  // The suspended fiber of a task whose job ended goes to `idle`. Out of
  // line, so that settle_handoff() stays small enough to inline into park().
  [[gnu::noinline]] void keep_fiber(task_record* t) noexcept;
  // Records of tasks whose job ended in a fiber that lives on, linked
  // through task_record::next: the scheduler's reference to each is dropped
  // by the worker loop (release_ended), never on a fiber. Dropping it may
  // destroy a detached task's result, and that destructor must not run in
  // the next job's fiber (it would see or set that job's fiber-locals) nor
  // block a fiber that is handing over. Bounded: every 61st round is the
  // loop's. Its thread only.
  task_record* ended_jobs = nullptr;
  void release_later(task_record* t) noexcept;
  void release_ended() noexcept;
  // Drops the scheduler's reference to a task that has been completed on
  // this worker: with a plain store if its joiner waits here
  // (task_record::joiner_here), else now, or `later` (release_later).
  void drop_ref(task_record* t, bool later) noexcept;
  // Queues a task that may run here (from any thread).
  void push(task_record* t, bool stealable) noexcept;
  // push() from this worker's own thread (which is then not asleep).
  void push_own(task_record* t, bool to_stealable) noexcept {
    if (next_local == nullptr && next_stealable.load(std::memory_order_relaxed) == nullptr &&
        pinned.size_hint() == 0 && stealable.size_hint() == 0) {
      // The oldest: nothing else is queued. (Only this thread fills the
      // slot, so an empty one read here stays empty until it does.)
      // seq_cst: a thief about to sleep looks at the slot after publishing
      // that it sleeps (idle_sleep); the caller looks at `spinning` and the
      // sleepers after this store (schedule_own).
      if (!to_stealable) next_local = t;
      else if (alone) next_stealable.store(t, std::memory_order_relaxed);  // no thief: only this thread looks
      else next_stealable.store(t, std::memory_order_seq_cst);
      return;
    }
    push_queued(t, to_stealable, true);
  }
  [[gnu::noinline]] void push_queued(task_record* t, bool to_stealable, bool own) noexcept;
  // scheduler_impl::schedule() from this worker's own thread.
  void schedule_own(task_record* t) noexcept;
  // schedule_own() of a task that is not pinned (a spawn); inline in scheduler.cpp.
  [[gnu::always_inline]] inline void schedule_own_stealable(task_record* t) noexcept;
  // Wakes the worker if it sleeps (from any thread).
  void wake() noexcept;
  void add_timer(waiter& w, clock::time_point deadline);
  static void cancel_timer(waiter& w) noexcept;

  scheduler_impl* const sched;
  const unsigned index;
  // The scheduler's only worker (one thread): no other thread ever steals
  // from it, so the `next_stealable` slot needs no atomic read-modify-write
  // (a spawn and the join that runs it cost two fewer locked instructions).
  const bool alone;

  // Run queues, under `lock`: pinned tasks only run here; stealable ones
  // (not started, or migratable) may be taken by another worker.
  spinlock lock;
  task_queue pinned;
  task_queue stealable;
  std::uint64_t next_stamp = 0;
  // A pinned task queued by this worker's own thread while both queues were
  // empty (so it is the oldest): its own, without a lock. Only this
  // worker's thread touches it.
  task_record* next_local = nullptr;
  // The same for a stealable task (not started, or migratable), as Go's
  // `runnext`: filled only by this worker's thread, while both queues and
  // next_local are empty (so it too is the oldest), and taken with one
  // exchange, by this worker or by a thief (steal()), without the lock.
  // At most one of next_local and next_stealable is set at a time.
  std::atomic<task_record*> next_stealable{nullptr};

  // Started tasks whose home this is, under `registry_lock` (shutdown unwinds them).
  spinlock registry_lock;
  task_record* registry = nullptr;  // newest first
  // Finished while unwinding, freed after the workers stop: linked through
  // reg_next (free once unenrolled; `next` is not: a run queue may still
  // name the task), so that finish(), which cannot fail, allocates nothing.
  task_record* unwound = nullptr;

  // Timers of fibers parked from this worker, under `timer_lock`.
  spinlock timer_lock;
  std::multimap<clock::time_point, waiter*> timers;
  std::atomic<std::size_t> timer_count{0};

  std::atomic<sleep_mode> sleeping{sleep_mode::awake};
  std::atomic<std::uint32_t> wake_word{0};
  // scheduler::idle_stats(): entries into `sleeping` (this worker's own
  // stores) and the wake system calls made for it (by any thread).
  std::atomic<std::uint64_t> sleeps{0};
  std::atomic<std::uint64_t> wake_calls{0};
  std::uint32_t rng;
  // Tasks this worker's thread took off `active` (parked, ended) and has
  // not subtracted yet: <= 0, so that `active` may only overcount. Paid
  // back by this thread's own schedules, published before it looks for
  // work (and so before it may find the scheduler quiet). Its thread only.
  std::int64_t active_debt = 0;
  // Task ids for spawns from this worker's fibers, taken 1,024 at a time.
  std::uint64_t next_id = 0;
  std::uint64_t ids_end = 0;
  // Scheduling rounds, each a task run from the loop or handed over; every
  // 61st is the worker loop's, which looks at timers and the poller first.
  // Counted down (no division on a hop): the rounds left until the loop's
  // one, which resets it; 1 when the next round is the loop's.
  static constexpr unsigned loop_period = 61;
  unsigned rounds_left = loop_period;
  bool loop_round_next() const noexcept { return rounds_left == 1; }
  std::thread thread;

 private:
  task_record* next_task() noexcept;
  task_record* pop_local() noexcept;
  task_record* take_next_stealable() noexcept;
  bool fits_handoff(const task_record* t, fresh_tasks fresh) const noexcept;
  task_record* hand_over(task_record* t, fresh_tasks fresh) noexcept;
  // take_for_handoff() when nothing waits in next_local: the queues.
  task_record* take_queued_for_handoff(fresh_tasks fresh) noexcept;
  task_record* find_work() noexcept;
  bool stealable_elsewhere() const noexcept;
  void publish_debt() noexcept;
  task_record* steal() noexcept;
  bool fire_timers() noexcept;
  clock::time_point next_deadline() noexcept;
  void idle_sleep() noexcept;
  bool prepare(task_record* t) noexcept;
  bool prepare_other(task_record* t) noexcept;
  void run_task(task_record* t) noexcept;
  void commit_park(task_record* t) noexcept;
  void count_scheduled() noexcept;
  void finish(task_record* t) noexcept;
  bool registry_shared() const noexcept;
  void enroll(task_record* t) noexcept;
  void unenroll(task_record* t) noexcept;
  void link_registered(task_record* t) noexcept;
  void unlink_registered(task_record* t) noexcept;
  void enroll_locked(task_record* t) noexcept;
  void unenroll_locked(task_record* t) noexcept;
  void unwind_all() noexcept;
  void retire_idle() noexcept;
};

enum class phase : std::uint32_t {
  running,    // spawns accepted
  draining,   // shutdown(): runnable fibers still run, spawns refused
  unwinding,  // nothing runnable: blocked fibers are being unwound
};

class scheduler_impl {
 public:
  scheduler_impl(scheduler* facade, const scheduler_options& options);

  void shutdown();
  void start_unwinding_if_quiet() noexcept;
  // Queues a new or woken task somewhere sensible and wakes a worker for it.
  void schedule(task_record* t) noexcept;
  void wake_idle_worker(worker* except) noexcept;

  scheduler* const facade;
  scheduler_options options;
  std::vector<std::unique_ptr<worker>> workers;
  std::atomic<phase> stage{phase::running};
  std::atomic<std::int64_t> active{0};  // tasks queued or running (less the workers' active_debt)
  std::atomic<unsigned> spinning{0};    // workers looking for work, not asleep
  // Workers in idle_sleep(): counted before their `sleeping` is published
  // and until after it is cleared, so never fewer than those asleep. With
  // none, wake_idle_worker() returns without reading every worker's
  // `sleeping` (each spawn on a busy scheduler would otherwise read a line
  // per worker: O(threads) on a many-core machine).
  std::atomic<unsigned> sleepers{0};
  std::atomic<unsigned> round_robin{0};
  std::atomic<bool> migratable_spawned{false};  // see worker::registry_shared
  std::mutex shutdown_lock;
  bool stopped = false;
};

// This thread's worker (nullptr outside the workers). Read directly only by
// code that does not switch fibers between reading it and using it (else
// current_worker(): see below), and only in functions that, once inlined
// wherever they are, cannot end up after a switch in the same caller (on
// AArch64 and RISC-V the compiler keeps the thread pointer in a register
// across calls): unpark() and wake_inline() read it, so they are called
// only where nothing parks (a channel operation that did not wait).
[[gnu::tls_model("initial-exec")]] extern thread_local constinit worker* t_worker;

// This thread's worker and the task it runs (nullptr outside). Not inlined:
// a migratable fiber may come back on another thread, and each call must
// compute the thread-local address afresh.
[[gnu::noinline]] worker* current_worker() noexcept;
[[gnu::noinline]] task_record* current_task() noexcept;

// Whether task `self` (current_task(); null: a plain thread, which may always
// wait) may park: its own fiber runs, not a plain fiber it resumed (which
// would block the worker's loop behind it), and shutdown is not unwinding it.
// `running`: the fiber running on this thread (current_fiber()).
inline bool parkable(const task_record* self, const fiber_control* running) noexcept {
  return self == nullptr || (!self->unwinding && running != nullptr && running->id == self->fiber_id);
}
inline bool parkable(const task_record* self) noexcept {
  return self == nullptr || parkable(self, current_fiber());
}
// What a wait that is not parkable does: throws scheduler_error, or ends the
// process with a diagnostic while shutdown unwinds the task.
[[noreturn, gnu::noinline, gnu::cold]] void refuse_park(const task_record* t);
// Every waiting call checks this before it publishes its waiter (on a wait
// list, a task's completion word, a socket): a refused wait must leave
// nothing a claimer could take, or the claimer would wake a task that never
// parked (its next real wait would return at once) and hand a channel's
// value to a receiver that has gone. park() itself does not check.
inline void check_parkable(const task_record* self) {
  if (!parkable(self)) [[unlikely]] refuse_park(self);
}

// Puts a parked task back on a run queue. Inline: every channel send that
// meets a waiting receiver ends here.
inline void unpark(task_record* t) noexcept {
  // The task's own worker thread cannot race with itself: the task is then
  // committed or not (its fiber does not run while this code does), and only
  // the one claimer of its waiter unparks it.
  worker* const here = t_worker;
  if (here == t->home) {
    if (here->uncommitted == t) {  // its commit was deferred: it never left the count
      here->uncommitted = nullptr;
      t->park.store(park_state::notified, std::memory_order_relaxed);
      here->push_own(t, false);  // pinned
      return;
    }
    const park_state was = t->park.load(std::memory_order_relaxed);
    t->park.store(park_state::notified, std::memory_order_relaxed);
    if (was == park_state::parked) here->schedule_own(t);
  } else if (t->park.exchange(park_state::notified, std::memory_order_acq_rel) == park_state::parked) {
    t->sched->schedule(t);
  }
}

// wake(), inline, for the channel operations that wake a partner and return
// without parking (every hop has one). Reads t_worker (unpark): see the rule
// there; every other caller, in particular any function that may also park,
// calls the out-of-line wake().
inline void wake_inline(const wake_token& token) noexcept {
  if (token.task != nullptr) unpark(token.task);
  else if (token.word != nullptr) wake_thread(*token.word);
}

// The parts of a hop that run on the worker, inline (park.hpp and the
// fiber reuse loop): the hand-over of the task the ping-pong partner's
// wake put in next_local, and the commit of the park it leaves behind.

task_record* worker::take_for_handoff(fresh_tasks fresh) noexcept {
  // A deferred park that another thread woke meanwhile is queued by its
  // commit: commit it first, so that it keeps its turn (a same-thread wake
  // has cleared `uncommitted` already, so a ping-pong pays nothing here).
  commit_deferred();
  if (loop_round_next()) return nullptr;  // the loop's turn: timers and the poller
  if (sched->stage.load(std::memory_order_acquire) == phase::unwinding) return nullptr;
  task_record* const t = next_local;  // the oldest, if there is one
  if (t == nullptr) return take_queued_for_handoff(fresh);
  // Through the loop: a task that resumes in a plain yield, and sliced
  // tasks (as for the queues).
  if (!t->waits_in_park || t->sliced) return nullptr;
  next_local = nullptr;
  --rounds_left;  // not to 0: not the loop's round
  if (t->home != this) prepare(t);  // started: nothing to make
  t->park.store(park_state::running, std::memory_order_relaxed);
  return t;
}

void worker::settle_handoff() noexcept {
  if (task_record* const t = std::exchange(handed_over, nullptr)) {
    if (t->job_ended) keep_fiber(t);
    else defer_commit(t);
  }
}

void worker::defer_commit(task_record* t) noexcept {
  if (!t->pinned()) {  // another worker may steal it once woken: commit now
    commit_deferred();  // and an older deferred one first, in its turn
    commit_park(t);
    return;
  }
  if (task_record* const older = std::exchange(uncommitted, t)) commit_park(older);
}

void worker::commit_deferred() noexcept {
  if (task_record* const t = std::exchange(uncommitted, nullptr)) commit_park(t);
}

}  // namespace cospace::detail
