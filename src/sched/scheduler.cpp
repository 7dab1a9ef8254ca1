// The scheduler: workers, run queues, parking, timers, shutdown.
//
// A worker's loop:
//
//   +--> pop a task (own queues, oldest first; every 61st round: timers and
//   |    the poller first, so neither starves behind a busy queue)
//   |      none: timers, poller (no wait), steal, spin a little, then sleep
//   |      (futex, or epoll_wait when it takes the poller role) until woken
//   |      or until its earliest timer
//   |    resume the task's fiber; when a fiber switches back (the one
//   |    resumed, or one it handed over to, see below):
//   |      done     -> wake its joiner, release its stack
//   |      parked   -> commit the park (or requeue it if already woken)
//   |      yielded  -> back to the end of its queue
//   +----'
//
// Parking, the race it closes: a fiber that waits first publishes a waiter
// (under the lock of what it waits for), then switches away. A waker on
// another thread may claim the waiter and unpark the task before that switch
// is complete, while the fiber still runs on its stack. So the switch is
// *committed* afterwards, by whoever runs next on that thread, with one
// compare-and-swap of the task's park state, running -> parked; unpark
// exchanges in `notified` and queues the task only if it saw `parked`. If it
// saw `running`, the commit fails and the committer requeues the task
// itself. Either way the task is queued exactly once, and never while its
// fiber is still on a stack. (park() also reads the state before switching,
// and does not switch at all if it is `notified` already.) Only the one
// claimer of a waiter unparks, and a task's own worker thread cannot race
// with itself, so an unpark from that thread is a plain load and store.
//
// Direct handoff: park() does not switch to the worker loop when the task
// the loop would run next (the older head of the worker's queues) resumes
// inside park(): it switches straight to it (handoff_to: switch_to without the checks), one
// switch instead of two, and leaves its own commit to that task, which
// settles it first thing (settle_handoff(), in park() after the switch; for
// a pinned task it may defer the commit until it switches away itself, see
// worker::uncommitted, so that a wake from this thread needs no CAS). A
// task that yielded resumes in this_fiber::yield(), where nothing would
// settle, and a task not started would have its fiber made on the parking
// fiber's stack: such heads go through the loop. Every 61st round is the
// loop's.
#include <cospace/scheduler.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>

#include "context/backend.hpp"
#include "fiber/fiber_control.hpp"
#include "fiber/transfer.hpp"
#include "fiber/reuse.hpp"
#include "park.hpp"
#include "poller.hpp"
#include "record_cache.hpp"
#include "scheduler_impl.hpp"

namespace cospace::detail {

[[gnu::tls_model("initial-exec")]] constinit thread_local worker* t_worker = nullptr;
[[gnu::tls_model("initial-exec")]] constinit thread_local task_record* t_task = nullptr;

namespace {

[[noreturn]] void die(const std::string& message) noexcept {
  std::fprintf(stderr, "cospace: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string describe(const task_record* t) {
  std::string text = "fiber";
  if (!t->name.empty()) text.append(" '").append(t->name).append("'");
  return text.append(" (task ").append(std::to_string(t->id)).append(")");
}

std::atomic<std::uint64_t> g_next_task_id{1};

// Alignments are powers of two: a mask, not a division.
std::size_t align_up(std::size_t offset, std::size_t alignment) noexcept {
  return (offset + alignment - 1) & ~(alignment - 1);
}

std::size_t record_alignment_of(const task_body_ops& ops) noexcept {
  return std::max(alignof(task_record), ops.alignment);
}

// Where the parts of a task's block go (see task_record's constructor): the
// record, its callable at `body`, a copy of its fiber options at `options`
// (a task that is not reusable only), then a copy of its name and a NUL at
// `name` (if it has one); `bytes` in all, aligned to `alignment`.
struct record_layout {
  record_layout(const task_body_ops& ops, bool reusable, std::size_t name_size) noexcept
      : alignment(record_alignment_of(ops)),
        body(align_up(sizeof(task_record), ops.alignment)),
        options(align_up(body + ops.size, alignof(cospace::fiber_options))),
        name(reusable ? body + ops.size : options + sizeof(cospace::fiber_options)),
        bytes(name_size == 0 ? name : name + name_size + 1) {}
  std::size_t alignment;
  std::size_t body;
  std::size_t options;
  std::size_t name;
  std::size_t bytes;
};

// Runs in the task's fiber: the body, its result and its exception.
void run_body(task_record* t) {
  try {
    t->ops->run(t->body());
  } catch (const forced_unwind&) {
    t->cancelled = true;
    throw;
  } catch (...) {
    t->error = std::current_exception();
  }
}

// Marks a task finished and claims its joiner, if any, for the caller to
// wake: the claim's token, and the waiter, which the caller releases
// (release_joiner) only after the wake. `here`: the worker whose thread
// calls (nullptr: not a worker).
struct joiner_claim {
  wake_token token;
  waiter* joiner = nullptr;
};
joiner_claim finish_claiming_joiner(task_record* t, worker* here) noexcept {
  std::uintptr_t state = t->completion.load(std::memory_order_acquire);
  auto* joiner = reinterpret_cast<waiter*>(state);
  // Neither the waiter nor the joiner's record is read here: a joiner that
  // shutdown unwinds on another thread may take its waiter back and go
  // meanwhile, and if it is another scheduler's, that scheduler may free
  // its record too. `joiner_home`, in t's own record, is compared only.
  if (joiner != nullptr && here != nullptr && t->joiner_home == here) {
    // Its joiner is a fiber that only this thread runs, suspended now: none
    // but this thread can touch the word (the joiner's unlink runs in it),
    // nor the handle (the joiner holds it: see task_record::joiner_here).
    t->completion.store(task_record::task_finished, std::memory_order_release);
    t->joiner_here = !t->unwinding;  // an unwound task's record is kept until the workers stop
  } else {
    state = t->completion.exchange(task_record::task_finished, std::memory_order_acq_rel);
    joiner = reinterpret_cast<waiter*>(state);
  }
  joiner_claim claim;
  if (joiner != nullptr) {
    // The only claimer of a join's waiter (no deadline, not a select).
    claim.token.task = joiner->task;
    claim.token.word = joiner->task == nullptr ? &joiner->woken : nullptr;
    claim.joiner = joiner;
    joiner->reason = wake_reason::signalled;
  }
  return claim;
}

// The last touch of a claimed joiner's waiter, after its wake: until then
// join_task's unlink keeps the joiner from leaving, so a joiner that another
// scheduler's shutdown unwinds meanwhile (its record freed once it is) is
// still there for the wake (unpark reads its record).
void release_joiner(const joiner_claim& claim) noexcept {
  if (claim.joiner != nullptr) claim.joiner->claimed.store(1, std::memory_order_release);
}

// Marks a task finished and wakes its joiner.
void complete(task_record* t, worker* here) noexcept {
  const joiner_claim claim = finish_claiming_joiner(t, here);
  wake(claim.token);
  release_joiner(claim);
}

// A task fiber switched back to: settles the handoff, as every fiber does
// when it runs again, and returns the task it runs now. Not inlined: the
// thread-local addresses are computed afresh after the switch (see next_job).
[[gnu::noinline]] task_record* settle_resumed() noexcept {
  t_worker->settle_handoff();
  return t_task;
}

// A task fiber's task is over (and the fiber fit for another: see
// end_job_for_reuse): completes it, then finds the fiber its next task:
//   - its joiner waits in park() on this worker, and nothing else is queued
//     here: the fiber switches straight to it (take_woken), without queueing
//     it, and the joiner keeps the fiber (settle_handoff);
//   - the next task queued here has not started (and is reusable): it runs
//     in this fiber right away (pass_fiber), no switch at all;
//   - it waits in park(): the fiber switches straight to it, which keeps the
//     fiber (settle_handoff), as park()'s handoff does;
//   - else the fiber yields to the worker loop, which keeps it.
// A kept fiber waits in worker::idle until a task not started yet needs a
// fiber: it is then resumed (or switched to) here. Returns that task;
// nullptr when the fiber is to end (retired, or no room to keep it); or,
// with `switch_first`, the task to switch to (nullptr: the worker loop),
// whose switch the caller makes (switch_to_task) before it settles
// (settle_resumed) and so learns its next task: every return right after a
// switch is mispredicted (see park_inline), and from the caller's own frame
// there is one fewer.
// Not inlined into task_fiber_body's loop: the fiber may run its next job
// on another thread (a migratable task moved it), and the thread-local
// addresses must be computed afresh on each call (AArch64 and RISC-V keep
// the thread pointer in a register that a caller's loop may cache).
// Throws only forced_unwind: a kept fiber destroyed while it waits.
struct next_step {
  task_record* task;
  bool switch_first;
};
[[gnu::noinline]] next_step next_job(task_record* t) {
  worker* const here = t_worker;
  // After the fiber-locals' destructors, as for an ending fiber.
  const joiner_claim joiner = finish_claiming_joiner(t, here);
  t->job_ended = true;
  if (here->idle_count == worker::idle_capacity) {
    wake(joiner.token);
    release_joiner(joiner);
    return {nullptr, false};  // finish() will not complete it again
  }
  task_record* next = here->take_woken(joiner.token.task);
  if (next == nullptr) wake(joiner.token);
  release_joiner(joiner);  // before a switch to the joiner (its unlink waits for it)
  if (next == nullptr) next = here->take_for_handoff(fresh_tasks::this_fiber);
  if (next != nullptr && !next->started) {
    here->pass_fiber(t, next);
    return {next, false};
  }
  if (next != nullptr) {
    here->handed_over = t;
    t_task = next;
  }
  return {next, true};  // nullptr: yield to the worker loop
}

// handoff_to() in task_fiber_body's loop. Its bookkeeping reads and writes
// thread-locals directly (transfer.hpp), and in that loop, which may run on
// another thread after each switch, their addresses would be computed once
// (see next_job; under qemu-aarch64 a migratable task's fiber crashed when
// all of it was inlined there): that half is out of line. The jump is made
// from the loop's own frame (about 20 ns less a spawn + join than from a
// function of its own), but with the sanitizers' hooks, which must sit in
// one frame with the jump, where the whole hand-over is out of line.
[[gnu::noinline]] handover* prepare_handoff_from_reuse_loop(task_record* next) {
  return prepare_handoff(next->fiber);
}
[[gnu::noinline]] void handoff_from_reuse_loop(task_record* next) { handoff_to(next->fiber); }

// next_job()'s switch to `next`, which next_job made the worker's current
// task (nullptr: a yield to the worker loop); returns the task this fiber
// runs when it is resumed (or switched to) for a task not started yet, by
// the loop or by a parking fiber, settled as every fiber does when it runs
// again; nullptr: to end.
[[gnu::always_inline]] inline task_record* switch_to_task(task_record* next) {
  if (next != nullptr) {
    try {
      if constexpr (tools_watch_switches) handoff_from_reuse_loop(next);
      else jump_handed_over(prepare_handoff_from_reuse_loop(next));
    } catch (const forced_unwind&) {
      throw;
    } catch (...) {
      die(describe(next) + ": the scheduler could not switch to it");
    }
  } else {
    try {
      this_fiber::yield();
    } catch (const forced_unwind&) {
      throw;
    } catch (...) {  // the ended task may be released by now: not named
      die("a task fiber could not yield to the worker loop");
    }
  }
  return settle_resumed();
}

// The body of every task's fiber: its task, then, while the fiber stays fit
// (reuse.hpp), task after task. Only reusable tasks run in a fiber that ran
// another. A forced_unwind from shutdown leaves through here.
void task_fiber_body(task_record* t) {
  fiber_control* const self = current_fiber();  // the same record wherever the fiber runs
  for (;;) {
    run_body(t);
    if (!t->reusable || !end_job_for_reuse(self)) return;
    const next_step step = next_job(t);
    t = step.switch_first ? switch_to_task(step.task) : step.task;
    if (t == nullptr) return;
    t->fiber_id = begin_reused_job(self, t->name);
  }
}

// A task that never started and never will: its callable is dropped.
void discard(task_record* t) noexcept {
  t->fiber.reset();
  t->ops->discard(t->body());
  t->cancelled = true;
  complete(t, nullptr);
  release_task(t);
}

}  // namespace

worker* current_worker() noexcept { return t_worker; }
task_record* current_task() noexcept { return t_task; }

// ---------------------------------------------------------------------------
// Waiting

void wake(const wake_token& token) noexcept { wake_inline(token); }

void wake_thread(std::atomic<std::uint32_t>& word) noexcept {
  word.store(1, std::memory_order_release);
  futex_wake(word, 1);  // may reach a waiter that has returned: a harmless spurious wake
}

// park.hpp's helpers, off the hop's path.

wake_reason park_thread(waiter& w, clock::time_point deadline) {
  while (w.woken.load(std::memory_order_acquire) == 0) {
    if (deadline != no_deadline && clock::now() >= deadline) {
      if (w.try_claim()) return w.reason = wake_reason::timeout;
      deadline = no_deadline;  // claimed: the claimer is about to wake us
    }
    futex_wait(w.woken, 0, deadline);
  }
  return w.reason;
}

bool timed_out_or_armed(waiter& w, clock::time_point deadline) {
  if (deadline <= clock::now()) {
    if (!w.try_claim()) return false;
    w.reason = wake_reason::timeout;
    return true;
  }
  try {
    current_worker()->add_timer(w, deadline);
  } catch (...) {
    // No timer (no memory for it): w is published, so claim it first. Won:
    // no one else will wake the task, the caller's unlink takes w off its
    // list, and the wait fails. Lost: the claimer is about to wake the task,
    // and park() goes on without a timer.
    if (w.try_claim()) throw;
  }
  return false;
}

#ifndef NDEBUG
void parked_unchecked(const task_record* t) {
  die(describe(t) + " parked where it may not (a plain fiber it resumed, or while shutdown unwinds it), and its "
                    "waiting call did not call check_parkable() before publishing its waiter");
}
#endif

void could_not_switch_to(const task_record* t) noexcept {
  die(describe(t) + ": the scheduler could not switch to it");
}

// The blocking calls that are refused: out of line, off every hop's path.
void refuse_park(const task_record* t) {
  if (t->unwinding) {
    die(describe(t) + " blocked while shutdown was unwinding it; destructors run at shutdown must "
                      "not wait for other fibers");
  }
  throw scheduler_error("cospace: a blocking call in a fiber the scheduler does not run (a plain "
                        "cospace::fiber resumed by a scheduled one) would block its worker; spawn it instead");
}

wake_reason park(waiter& w, clock::time_point deadline) { return park_inline(w, deadline); }

void sleep_until(clock::time_point deadline) {
  if (current_task() == nullptr) {
    std::this_thread::sleep_until(deadline);
    return;
  }
  task_record* const self = current_task();
  check_parkable(self);
  wait_storage<waiter> storage(self->sliced);
  waiter& w = storage.get();
  w.task = self;
  park(w, deadline);
}

// ---------------------------------------------------------------------------
// Timers

void worker::add_timer(waiter& w, clock::time_point deadline) {
  // The map's node is allocated before the lock is taken (made in a map of
  // its own, then moved over): nothing allocates under a spin lock.
  std::multimap<clock::time_point, waiter*> made;
  auto node = made.extract(made.emplace(deadline, &w));
  timer_lock.lock();
  w.timer = timers.insert(std::move(node));
  w.timer_owner.store(this, std::memory_order_relaxed);
  timer_count.fetch_add(1, std::memory_order_relaxed);
  timer_lock.unlock();
}

// The waiter's own fiber, as it leaves park(). The owner may be another
// worker (a migratable fiber woken elsewhere), whose fire_timers may be
// claiming this waiter right now: the timer lock orders the two.
void worker::cancel_timer(waiter& w) noexcept {
  worker* const owner = w.timer_owner.load(std::memory_order_acquire);
  if (owner == nullptr) return;  // fired (or never armed): fire_timers is done with w
  std::multimap<clock::time_point, waiter*>::node_type node;  // freed after the unlock: no free under a spin lock
  owner->timer_lock.lock();
  if (w.timer_owner.load(std::memory_order_relaxed) != nullptr) {  // still armed: the timer did not fire
    node = owner->timers.extract(w.timer);
    owner->timer_count.fetch_sub(1, std::memory_order_relaxed);
    w.timer_owner.store(nullptr, std::memory_order_relaxed);
  }
  owner->timer_lock.unlock();
}

// Claims the waiters whose time has come (under the timer lock, so that none
// of them can leave meanwhile) and wakes them. True if any was woken.
bool worker::fire_timers() noexcept {
  if (timer_count.load(std::memory_order_relaxed) == 0) return false;
  const auto now = clock::now();
  wake_token due[32];
  // The map nodes taken out, freed after the unlock (no free under a spin
  // lock: it may wait for the allocator's own lock).
  std::multimap<clock::time_point, waiter*>::node_type spent[std::size(due)];
  std::size_t n = 0;
  std::size_t taken = 0;
  timer_lock.lock();
  while (taken < std::size(spent) && !timers.empty() && timers.begin()->first <= now) {
    spent[taken++] = timers.extract(timers.begin());
    waiter* const w = spent[taken - 1].mapped();
    timer_count.fetch_sub(1, std::memory_order_relaxed);
    const bool claimed = claim(*w, wake_reason::timeout, due[n]);
    // The last touch of *w: once its fiber reads null it may leave park()
    // and its waiter go (due[n] holds what the wake needs).
    w->timer_owner.store(nullptr, std::memory_order_release);
    if (claimed) ++n;
  }
  timer_lock.unlock();
  for (std::size_t i = 0; i < n; ++i) detail::wake(due[i]);
  return n > 0;
}

clock::time_point worker::next_deadline() noexcept {
  if (timer_count.load(std::memory_order_relaxed) == 0) return no_deadline;
  timer_lock.lock();
  const auto deadline = timers.empty() ? no_deadline : timers.begin()->first;
  timer_lock.unlock();
  return deadline;
}

// ---------------------------------------------------------------------------
// Run queues

void worker::push(task_record* t, bool to_stealable) noexcept {
  if (t_worker == this) push_own(t, to_stealable);
  else push_queued(t, to_stealable, false);
}

void worker::push_queued(task_record* t, bool to_stealable, bool own) noexcept {
  lock.lock();
  t->stamp = next_stamp++;
  // A stealable task is published seq_cst even by the owner: thieves about
  // to sleep look for it (stealable_elsewhere).
  (to_stealable ? stealable : pinned).push(t, own && !to_stealable);
  lock.unlock();
  if (!own) wake();
}

void worker::wake() noexcept {
  // seq_cst pairs with idle_sleep(): it publishes `sleeping`, then looks at
  // its queues; we published the task, then look at `sleeping`.
  if (sleeping.load(std::memory_order_seq_cst) == sleep_mode::awake) return;
  // One system call per sleep: the waker whose exchange ends the sleep makes
  // it. Those who come before the sleeper runs again find it awake and leave
  // it, which is safe: once it runs it looks at every queue (find_work). A
  // plain load here had every spawn in that window (microseconds) call
  // futex_wake: 230,000 calls for 10^6 spawns, most of their time.
  const sleep_mode mode = sleeping.exchange(sleep_mode::awake, std::memory_order_seq_cst);
  if (mode == sleep_mode::awake) return;
  wake_calls.fetch_add(1, std::memory_order_relaxed);
  wake_word.fetch_add(1, std::memory_order_seq_cst);
  if (mode == sleep_mode::futex) futex_wake(wake_word, 1);
  else poller_interrupt();
}

task_record* worker::take_next_stealable() noexcept {
  task_record* const t = next_stealable.load(std::memory_order_relaxed);
  if (t == nullptr) return nullptr;
  if (alone) {  // no thief: this thread is the only one to touch the slot
    next_stealable.store(nullptr, std::memory_order_relaxed);
    return t;
  }
  return next_stealable.exchange(nullptr, std::memory_order_acq_rel);  // nullptr: a thief was first
}

task_record* worker::pop_local() noexcept {
  if (next_local != nullptr) return std::exchange(next_local, nullptr);
  if (task_record* const t = take_next_stealable()) return t;
  if (pinned.size_hint() == 0 && stealable.size_hint() == 0) return nullptr;
  lock.lock();
  // The older of the two heads goes first: one FIFO order over both queues.
  task_record* p = pinned.front();
  task_record* s = stealable.front();
  task_record* t = nullptr;
  if (p != nullptr && (s == nullptr || p->stamp < s->stamp)) t = pinned.pop();
  else if (s != nullptr) t = stealable.pop();
  lock.unlock();
  return t;
}

task_record* worker::steal() noexcept {
  const auto& all = sched->workers;
  const std::size_t n = all.size();
  if (n < 2) return nullptr;
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  const std::size_t start = rng % n;
  for (std::size_t i = 0; i < n; ++i) {
    worker* victim = all[(start + i) % n].get();
    if (victim == this) continue;
    if (task_record* const t = victim->take_next_stealable()) return t;  // older than its queue
    if (victim->stealable.size_hint() == 0) continue;
    if (!victim->lock.try_lock()) continue;
    // Take half (at least one): run the first, queue the rest here.
    std::size_t take = (victim->stealable.size_hint() + 1) / 2;
    task_record* first = victim->stealable.pop();
    task_record* batch[64];
    std::size_t more = 0;
    while (first != nullptr && --take > 0 && more < std::size(batch)) {
      task_record* t = victim->stealable.pop();
      if (t == nullptr) break;
      batch[more++] = t;
    }
    victim->lock.unlock();
    if (first == nullptr) continue;
    if (more > 0) {
      lock.lock();
      for (std::size_t k = 0; k < more; ++k) {
        batch[k]->stamp = next_stamp++;
        stealable.push(batch[k]);
      }
      lock.unlock();
    }
    return first;
  }
  return nullptr;
}

task_record* worker::next_task() noexcept {
  if (--rounds_left == 0) {
    rounds_left = loop_period;
    fire_timers();
    if (poller_in_use() && poller_try_acquire()) {
      poller_wait(clock::time_point::min());
      poller_release();
    }
  }
  return pop_local();
}

// seq_cst loads: a pusher publishes a stealable task, then reads `spinning`
// and the sleepers' `sleeping` (schedule_own, scheduler_impl::schedule); a
// worker about to sleep publishes `sleeping`, then reads these. One of the
// two sees the other.
bool worker::stealable_elsewhere() const noexcept {
  for (const auto& w : sched->workers) {
    if (w.get() == this) continue;
    if (w->next_stealable.load(std::memory_order_seq_cst) != nullptr || w->stealable.size_seq_cst() != 0) return true;
  }
  return false;
}

void worker::idle_sleep() noexcept {
  const clock::time_point deadline = next_deadline();
  const std::uint32_t seen = wake_word.load(std::memory_order_seq_cst);
  const bool polls = poller_in_use() && poller_try_acquire();
  sleeps.fetch_add(1, std::memory_order_relaxed);
  // seq_cst, before `sleeping` and the look at the queues below: a pusher
  // that reads 0 here (wake_idle_worker) published its task before, so the
  // look finds it.
  sched->sleepers.fetch_add(1, std::memory_order_seq_cst);
  sleeping.store(polls ? sleep_mode::poller : sleep_mode::futex, std::memory_order_seq_cst);
  // Our own queues, and the other workers' stealable tasks: one published
  // while we were dropping out of `spinning` saw us spinning and woke no one.
  const bool work = next_local != nullptr || next_stealable.load(std::memory_order_seq_cst) != nullptr ||
                    pinned.size_seq_cst() != 0 || stealable.size_seq_cst() != 0 ||
                    sched->stage.load(std::memory_order_seq_cst) == phase::unwinding || stealable_elsewhere();
  if (!work) {
    if (polls) poller_wait(deadline);
    else futex_wait(wake_word, seen, deadline);
  }
  sleeping.store(sleep_mode::awake, std::memory_order_relaxed);
  sched->sleepers.fetch_sub(1, std::memory_order_relaxed);
  if (polls) poller_release();
}

task_record* worker::take_queued_for_handoff(fresh_tasks fresh) noexcept {
  if (task_record* const t = take_next_stealable()) {  // the oldest; ours now
    if (!fits_handoff(t, fresh)) {
      // Back, for the loop (or a thief: see push_own).
      next_stealable.store(t, alone ? std::memory_order_relaxed : std::memory_order_seq_cst);
      return nullptr;
    }
    return hand_over(t, fresh);
  }
  if (pinned.size_hint() == 0 && stealable.size_hint() == 0) return nullptr;
  lock.lock();
  // The task the loop would pop next (the older head), if it may be switched to.
  task_record* p = pinned.front();
  task_record* s = stealable.front();
  const bool from_pinned = p != nullptr && (s == nullptr || p->stamp < s->stamp);
  task_record* t = from_pinned ? p : s;
  // A task stopped in park(), or a reusable one not started yet that gets
  // a fiber without making one: making it (stack acquired, prefaulted,
  // callable moved) would happen on the caller's stack, inside its park();
  // the loop makes it on the worker's own stack.
  if (t == nullptr || !fits_handoff(t, fresh)) {
    lock.unlock();
    return nullptr;
  }
  if (from_pinned) pinned.pop();
  else stealable.pop();
  lock.unlock();
  return hand_over(t, fresh);
}

// Whether a fiber may switch straight to `t` (see take_for_handoff()).
bool worker::fits_handoff(const task_record* t, fresh_tasks fresh) const noexcept {
  return !t->sliced && (t->started ? t->waits_in_park
                                   : t->reusable && (fresh == fresh_tasks::this_fiber ||
                                                     (fresh == fresh_tasks::cached_fiber && idle_count > 0)));
}

// `t`, taken off a queue for a handoff, is ready to be switched to.
task_record* worker::hand_over(task_record* t, fresh_tasks fresh) noexcept {
  --rounds_left;  // not to 0: not the loop's round
  if (!t->started) {
    if (fresh == fresh_tasks::this_fiber) return t;  // the caller's fiber runs it (pass_fiber)
    prepare(t);  // a fiber from `idle`: cannot fail
  } else if (t->home != this) {
    prepare(t);  // started: re-homed, nothing to make
  }
  t->park.store(park_state::running, std::memory_order_relaxed);
  return t;
}

task_record* worker::take_woken(task_record* t) noexcept {
  // Ours (then only this thread touches its scheduling fields), committed
  // (so off its stack), resuming in park() (which settles our fiber).
  if (t == nullptr || t->home != this || !t->waits_in_park || t->sliced) return nullptr;
  const bool deferred = t == uncommitted;  // its park not committed yet: none to undo
  if (!deferred) commit_deferred();  // another deferred park, maybe woken: queued in its turn
  if (!deferred && t->park.load(std::memory_order_relaxed) != park_state::parked) return nullptr;
  // It must be what the loop would run next: nothing older queued, not the
  // loop's round.
  if (next_local != nullptr || next_stealable.load(std::memory_order_relaxed) != nullptr ||
      pinned.size_hint() != 0 || stealable.size_hint() != 0 || loop_round_next() ||
      sched->stage.load(std::memory_order_acquire) == phase::unwinding)
    return nullptr;
  // As unpark() + schedule_own() + take_for_handoff() would, minus the queue.
  if (deferred) uncommitted = nullptr;
  else if (active_debt < 0) ++active_debt;
  else sched->active.fetch_add(1, std::memory_order_seq_cst);
  --rounds_left;  // not to 0: not the loop's round
  t->park.store(park_state::running, std::memory_order_relaxed);
  return t;
}

void worker::pass_fiber(task_record* ended, task_record* next) noexcept {
  next->fiber = std::move(ended->fiber);
  ended->home->unenroll(ended);
  drop_ref(ended, true);
  --active_debt;
  next->started = true;
  enroll(next);
  next->park.store(park_state::running, std::memory_order_relaxed);
  t_task = next;
}

void worker::keep_fiber(task_record* t) noexcept {
  // next_job() let the fiber go only with room here, and nothing ran on
  // this worker since.
  idle[idle_count++] = std::move(t->fiber);
  t->home->unenroll(t);
  drop_ref(t, true);
  --active_debt;
}

void worker::drop_ref(task_record* t, bool later) noexcept {
  if (t->joiner_here) t->refs.store(1, std::memory_order_relaxed);  // the joiner, on this thread, drops the last
  else if (later) release_later(t);
  else release_task(t);
}

void worker::release_later(task_record* t) noexcept {
  t->next = ended_jobs;  // off every run queue: it was running
  ended_jobs = t;
}

// On the worker loop, with no task current (as finish() releases a task
// whose fiber ended): a result's destructor sees no task's fiber-locals,
// and if it blocks, it blocks this thread, as it did before fibers were reused.
void worker::release_ended() noexcept {
  while (task_record* const t = ended_jobs) {
    ended_jobs = t->next;
    release_task(t);
  }
}

// Ends the kept fibers: each, resumed with no task, returns from its body.
void worker::retire_idle() noexcept {
  while (idle_count > 0) {
    cospace::fiber f = std::move(idle[--idle_count]);
    task_record* const was = std::exchange(t_task, nullptr);
    try {
      f.resume();
    } catch (...) {
      die("an idle task fiber could not be resumed to end");
    }
    t_task = was;
  }
}

// The task's fiber has switched out of park(): it is off its stack, so it
// may be queued by whoever wakes it from now on.
void worker::commit_park(task_record* t) noexcept {
  park_state expected = park_state::running;
  if (t->park.compare_exchange_strong(expected, park_state::parked, std::memory_order_acq_rel)) {
    --active_debt;
  } else {
    push_own(t, !t->pinned());  // woken while switching out
  }
}

void worker::publish_debt() noexcept {
  if (active_debt != 0) sched->active.fetch_add(std::exchange(active_debt, 0), std::memory_order_seq_cst);
}

task_record* worker::find_work() noexcept {
  publish_debt();  // before anyone may conclude from `active` that all is quiet
  sched->spinning.fetch_add(1, std::memory_order_seq_cst);
  task_record* t = nullptr;
  for (;;) {
    if (sched->stage.load(std::memory_order_acquire) == phase::unwinding) break;
    // One full look: timers, the poller without waiting, other workers.
    fire_timers();
    if ((t = pop_local()) != nullptr) break;
    if (poller_in_use() && poller_try_acquire()) {
      poller_wait(clock::time_point::min());
      poller_release();
      if ((t = pop_local()) != nullptr) break;
    }
    if ((t = steal()) != nullptr) break;
    sched->start_unwinding_if_quiet();
    // A short spin without system calls (a woken fiber often arrives within
    // microseconds), then sleep in the kernel.
    for (unsigned round = 0; round < sched->options.idle_spins && t == nullptr; ++round) {
      for (int i = 0; i < 16; ++i) cpu_relax();
      if ((t = pop_local()) == nullptr && (round & 7) == 7) t = steal();
    }
    if (t != nullptr) break;
    sched->spinning.fetch_sub(1, std::memory_order_seq_cst);
    retire_idle();  // an idle worker pins no stacks
    idle_sleep();
    sched->spinning.fetch_add(1, std::memory_order_seq_cst);
  }
  sched->spinning.fetch_sub(1, std::memory_order_seq_cst);
  return t;
}

// ---------------------------------------------------------------------------
// Running

// Another thread touches this worker's registry only to move out a
// migratable task that this worker enrolled, and so only after this worker
// has seen `migratable_spawned` set (it was set before that task was first
// queued). Until then the owner goes without the lock.
bool worker::registry_shared() const noexcept { return sched->migratable_spawned.load(std::memory_order_relaxed); }

// The registry's list operations, without the lock.
void worker::link_registered(task_record* t) noexcept {
  t->reg_prev = nullptr;
  t->reg_next = registry;
  if (registry != nullptr) registry->reg_prev = t;
  registry = t;
}

void worker::unlink_registered(task_record* t) noexcept {
  if (t->reg_prev != nullptr) t->reg_prev->reg_next = t->reg_next;
  else registry = t->reg_next;
  if (t->reg_next != nullptr) t->reg_next->reg_prev = t->reg_prev;
  t->reg_prev = t->reg_next = nullptr;
}

// The same under the lock: out of line, so that the lock's spin loop does
// not weigh on the callers of enroll/unenroll (every task that starts or ends).
[[gnu::noinline]] void worker::enroll_locked(task_record* t) noexcept {
  registry_lock.lock();
  link_registered(t);
  registry_lock.unlock();
}

[[gnu::noinline]] void worker::unenroll_locked(task_record* t) noexcept {
  registry_lock.lock();
  unlink_registered(t);
  registry_lock.unlock();
}

void worker::enroll(task_record* t) noexcept {
  if (registry_shared()) enroll_locked(t);
  else link_registered(t);
  t->home = this;
}

void worker::unenroll(task_record* t) noexcept {
  if (registry_shared()) unenroll_locked(t);
  else unlink_registered(t);
}

void worker::finish(task_record* t) noexcept {
  t->fiber.reset();  // its stack goes back now, not when the handle does (unwound: done already)
  unenroll(t);
  if (!t->job_ended) complete(t, this);  // else next_job() did
  if (t->unwinding) {  // a run queue may still name it: kept until the workers stop
    t->reg_next = unwound;
    unwound = t;
  } else {
    drop_ref(t, false);
  }
}

// Makes a task's fiber when it first runs. A failure (bad fiber options,
// no stack) ends the task with that exception, for join() to rethrow.
bool make_fiber(task_record* t) noexcept {
  try {
    t->fiber = cospace::fiber([t] { task_fiber_body(t); }, t->options());
    t->fiber_id = t->fiber.id();
  } catch (...) {
    t->error = std::current_exception();
  }
  return static_cast<bool>(t->fiber);
}

// Makes the fiber of a task about to run for the first time, and moves a
// migratable one's registration here. False if its fiber could not be
// made: the task has ended then.
bool worker::prepare(task_record* t) noexcept {
  if (!t->started && t->reusable && idle_count > 0) {  // the common case, without a frame of its own
    t->fiber = std::move(idle[--idle_count]);  // its id is set when it runs (task_fiber_body)
    t->started = true;
    enroll(t);
    return true;
  }
  return prepare_other(t);
}

// prepare() but for a reusable task that takes a kept fiber.
[[gnu::noinline]] bool worker::prepare_other(task_record* t) noexcept {
  if (!t->started) {
    if (t->reusable && idle_count > 0) {
      t->fiber = std::move(idle[--idle_count]);
    } else if (!make_fiber(t)) {
      t->ops->discard(t->body());
      complete(t, this);
      drop_ref(t, false);
      --active_debt;
      return false;
    }
    t->started = true;
    enroll(t);
  } else if (t->home != this) {  // a migratable task taken by this worker
    t->home->unenroll(t);
    enroll(t);
  }
  return true;
}

void worker::run_task(task_record* t) noexcept {
  if (!prepare(t)) return;
  t->park.store(park_state::running, std::memory_order_relaxed);
  t_task = t;
  try {
    t->fiber.resume();
  } catch (...) {
    die(describe(t) + ": the scheduler could not resume it");
  }
  // After handoffs (park()) the fiber that came back may be another one.
  task_record* const back = t_task;
  t_task = nullptr;
  commit_deferred();  // before the loop may look for work (or sleep)
  if (back->fiber.done()) {
    finish(back);
    --active_debt;
  } else if (back->job_ended) {
    keep_fiber(back);
  } else if (back->parking) {  // park() went through the loop
    back->parking = false;
    commit_park(back);
  } else {
    push_own(back, !back->pinned());  // this_fiber::yield()
  }
}

void worker::unwind_all() noexcept {
  for (;;) {
    registry_lock.lock();
    task_record* t = registry;
    registry_lock.unlock();
    if (t == nullptr) return;
    t->unwinding = true;
    t_task = t;
    t->fiber.reset();  // forced_unwind runs the destructors on its stack
    t_task = nullptr;
    finish(t);
  }
}

void worker::run() noexcept {
  t_worker = this;
  for (;;) {
    release_ended();
    if (sched->stage.load(std::memory_order_acquire) == phase::unwinding) break;
    task_record* t = next_task();
    if (t == nullptr) t = find_work();
    if (t == nullptr) continue;
    if (sched->stage.load(std::memory_order_acquire) == phase::unwinding) {
      push_own(t, !t->pinned());  // not run again: unwound below, or discarded
      break;
    }
    run_task(t);
  }
  publish_debt();
  unwind_all();
  retire_idle();
  release_ended();
  t_worker = nullptr;
}

// ---------------------------------------------------------------------------
// The scheduler

scheduler_impl::scheduler_impl(scheduler* owner, const scheduler_options& o) : facade(owner), options(o) {
  if (context::selected.needs_stack_below_caller) {
    // A worker thread's stack is mapped wherever the kernel put it, so it is
    // not above the fibers it would start, which setjmp/longjmp requires.
    throw scheduler_error("cospace: the scheduler needs the asm or ucontext context backend; the sjlj backend "
                          "cannot start a fiber from a worker thread (a fresh stack must lie below the stack "
                          "that starts it)");
  }
  unsigned n = o.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  if (n > 4096) throw scheduler_error("cospace: scheduler_options::threads is larger than 4096");
  workers.reserve(n);
  for (unsigned i = 0; i < n; ++i) workers.push_back(std::make_unique<worker>(this, i, n == 1));
  for (auto& w : workers) {
    try {
      w->thread = std::thread([p = w.get()] { p->run(); });
    } catch (...) {
      shutdown();
      throw;
    }
  }
}

void worker::count_scheduled() noexcept {
  if (active_debt < 0) ++active_debt;  // pays back a retirement not yet published
  else sched->active.fetch_add(1, std::memory_order_seq_cst);
}

void worker::schedule_own_stealable(task_record* t) noexcept {
  count_scheduled();
  push_own(t, true);
  // A worker looking for work will steal it; else wake a sleeping one (if any).
  if (!alone && sched->spinning.load(std::memory_order_seq_cst) == 0) sched->wake_idle_worker(this);
}

void worker::schedule_own(task_record* t) noexcept {
  if (!t->pinned()) {
    schedule_own_stealable(t);
    return;
  }
  count_scheduled();
  if (t->home == this) push_own(t, false);
  else t->home->push(t, false);
}

void scheduler_impl::schedule(task_record* t) noexcept {
  worker* const here = current_worker();
  if (here != nullptr && here->sched == this) {
    here->schedule_own(t);
    return;
  }
  active.fetch_add(1, std::memory_order_seq_cst);
  if (t->pinned()) {
    t->home->push(t, false);
    return;
  }
  worker* target = t->home;
  if (target == nullptr) target = workers[round_robin.fetch_add(1, std::memory_order_relaxed) % workers.size()].get();
  target->push(t, true);
  // A worker looking for work will steal it; else wake a sleeping one (if any).
  if (spinning.load(std::memory_order_seq_cst) == 0) wake_idle_worker(target);
}

void scheduler_impl::wake_idle_worker(worker* except) noexcept {
  if (sleepers.load(std::memory_order_seq_cst) == 0) return;  // all awake: see `sleepers`
  for (auto& w : workers) {
    if (w.get() != except && w->sleeping.load(std::memory_order_seq_cst) != sleep_mode::awake) {
      w->wake();
      return;
    }
  }
}

void scheduler_impl::start_unwinding_if_quiet() noexcept {
  if (stage.load(std::memory_order_seq_cst) != phase::draining || active.load(std::memory_order_seq_cst) != 0)
    return;
  phase expected = phase::draining;
  if (stage.compare_exchange_strong(expected, phase::unwinding, std::memory_order_seq_cst))
    for (auto& w : workers) w->wake();
}

void scheduler_impl::shutdown() {
  if (current_scheduler() == this)
    throw scheduler_error("cospace: shutdown() from one of the scheduler's own fibers would wait for itself");
  std::lock_guard<std::mutex> guard(shutdown_lock);
  if (stopped) return;
  phase expected = phase::running;
  stage.compare_exchange_strong(expected, phase::draining, std::memory_order_seq_cst);
  start_unwinding_if_quiet();
  for (auto& w : workers) w->wake();
  for (auto& w : workers)
    if (w->thread.joinable()) w->thread.join();
  // What is left in the queues never started (started ones were unwound
  // by their home worker, and are held by `unwound` until now).
  for (auto& w : workers) {
    w->next_local = nullptr;  // started (pinned): unwound already
    if (task_record* t = w->next_stealable.exchange(nullptr, std::memory_order_relaxed))
      if (!t->started) discard(t);  // else unwound already
    for (task_queue* q : {&w->pinned, &w->stealable})
      while (task_record* t = q->pop())
        if (!t->started) discard(t);
  }
  for (auto& w : workers) {
    while (task_record* t = std::exchange(w->unwound, nullptr)) {
      w->unwound = t->reg_next;
      release_task(t);
    }
  }
  stopped = true;
}

// ---------------------------------------------------------------------------
// The public entry points

task_record* spawn_task(scheduler_impl* on, const spawn_options& options, const task_body_ops& ops, void* source) {
  if (on == nullptr) throw scheduler_error("cospace: spawn() on no scheduler");
  if (on->stage.load(std::memory_order_acquire) != phase::running)
    throw scheduler_error("cospace: spawn() after shutdown() began");
  if (options.migrate && options.fiber.stack == stack_kind::sliced)
    throw scheduler_error("cospace: spawn_options::migrate cannot apply to a sliced fiber (it never leaves its thread)");
  const bool reusable = task_record::reusable_options(options);
  const record_layout layout(ops, reusable, options.fiber.name.size());
  const bool cached = cached_size(layout.bytes, layout.alignment);
  void* memory = allocate_record(cached, layout.bytes, layout.alignment);
  auto* const block = static_cast<char*>(memory);
  task_record* t = nullptr;
  try {
    t = ::new (memory) task_record(
        on, ops, options, block + layout.body,
        reusable ? nullptr : reinterpret_cast<cospace::fiber_options*>(block + layout.options), block + layout.name,
        cached);
    ops.construct(t->body(), source);
  } catch (...) {
    if (t != nullptr) t->~task_record();
    free_record(memory, cached, layout.alignment);
    throw;
  }
  worker* const here = t_worker;  // direct: nothing here switches fibers, nor calls this (see t_worker)
  const bool from_worker = here != nullptr && here->sched == on;
  if (from_worker) {  // ids from the worker's own block
    if (here->next_id == here->ids_end) {
      here->next_id = g_next_task_id.fetch_add(1024, std::memory_order_relaxed);
      here->ids_end = here->next_id + 1024;
    }
    t->id = here->next_id++;
  } else {
    t->id = g_next_task_id.fetch_add(1, std::memory_order_relaxed);
  }
  if (options.migrate && !on->migratable_spawned.load(std::memory_order_relaxed))
    on->migratable_spawned.store(true, std::memory_order_relaxed);  // before it is queued (worker::registry_shared)
  if (from_worker) here->schedule_own_stealable(t);  // not started: not pinned
  else on->schedule(t);
  return t;
}

void* body_of(task_record* t) noexcept { return t->body(); }

bool task_done(const task_record* t) noexcept {
  return t->completion.load(std::memory_order_acquire) == task_record::task_finished;
}

std::uint64_t task_id(const task_record* t) noexcept { return t->id; }

void join_task(task_record* t) {
  task_record* const self = t_task;  // direct: read before park_inline's switch only (see t_worker)
  if (self == t) throw scheduler_error("cospace: " + describe(t) + " tried to join itself");
  if (t->completion.load(std::memory_order_acquire) == 0) check_parkable(self);  // it would wait
  wait_storage<waiter> storage(self != nullptr && self->sliced);
  waiter& w = storage.get();
  w.task = self;
  t->joiner_home = self != nullptr && self->pinned() ? self->home : nullptr;  // published with the waiter
  const auto mine = reinterpret_cast<std::uintptr_t>(&w);
  std::uintptr_t state = t->completion.load(std::memory_order_acquire);
  if (state == 0) {
    if (self != nullptr && self->sched == t->sched && self->home->alone) {
      // A scheduler of one worker: `t` ends on this thread (or is discarded
      // by shutdown() after the worker thread has stopped), not now.
      t->completion.store(mine, std::memory_order_release);
      state = mine;
    } else if (t->completion.compare_exchange_strong(state, mine, std::memory_order_acq_rel,
                                                     std::memory_order_acquire)) {
      state = mine;
    }
  }
  if (state == mine) {
    struct unlink {  // also when shutdown unwinds the joining fiber
      task_record* t;
      waiter& w;
      std::uintptr_t mine;
      ~unlink() {
        std::uintptr_t seen = t->completion.load(std::memory_order_acquire);
        if (seen == mine && t->completion.compare_exchange_strong(seen, 0, std::memory_order_acq_rel)) return;
        // The task's end took w: wait for its last touch (at once, unless it
        // runs on another thread right now).
        for (unsigned spins = 0; w.claimed.load(std::memory_order_acquire) == 0; ++spins) {
          if (spins > 128) {
            std::this_thread::yield();
            spins = 0;
          } else {
            cpu_relax();
          }
        }
      }
    } guard{t, w, mine};
    park_inline(w, no_deadline);
  }
  // The joiner takes the exception out of the record: every reference to it
  // is then on this thread, so the object is freed here, never by a worker
  // that drops the record last (ThreadSanitizer cannot see the uninstrumented
  // reference counts of std::exception_ptr that would order the two).
  if (t->error) std::rethrow_exception(std::exchange(t->error, nullptr));
  if (t->cancelled) throw fiber_cancelled("cospace: " + describe(t) + " was unwound by shutdown before it finished");
}

void release_task(task_record* t) noexcept {
  // The last reference (the count never rises again) needs no read-modify-write.
  if (t->refs.load(std::memory_order_acquire) != 1 && t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  const bool cached = t->cached_block;
  const std::size_t alignment = cached ? 0 : record_alignment_of(*t->ops);
  t->ops->destroy(t->body());
  t->~task_record();
  free_record(t, cached, alignment);
}

// Reads t_task directly: it switches no fiber, nor do its callers here
// (shutdown(), ~scheduler()) after it (see t_worker).
scheduler_impl* current_scheduler() noexcept {
  const task_record* t = t_task;
  return t != nullptr ? t->sched : nullptr;
}

}  // namespace cospace::detail

namespace cospace {

scheduler::scheduler(const scheduler_options& options) : impl_(new detail::scheduler_impl(this, options)) {}

scheduler::~scheduler() {
  if (detail::current_scheduler() == impl_) {
    detail::die("a scheduler was destroyed by one of its own fibers");
  }
  impl_->shutdown();
  delete impl_;
}

void scheduler::shutdown() { impl_->shutdown(); }

unsigned scheduler::threads() const noexcept { return static_cast<unsigned>(impl_->workers.size()); }

scheduler_idle_stats scheduler::idle_stats() const noexcept {
  scheduler_idle_stats stats;
  for (const auto& w : impl_->workers) {
    stats.sleeps += w->sleeps.load(std::memory_order_relaxed);
    stats.wake_calls += w->wake_calls.load(std::memory_order_relaxed);
  }
  return stats;
}

scheduler* scheduler::current() noexcept {
  detail::scheduler_impl* s = detail::current_scheduler();
  return s != nullptr ? s->facade : nullptr;
}

}  // namespace cospace
