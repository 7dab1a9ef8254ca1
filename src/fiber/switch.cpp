// Resuming and suspending fibers: the fiber core's hot path.
//
// A resume, from the resumer's side:
//   1. check the fiber can run (state), mark it running, make it current;
//   2. swap the C++ exception state (exception_state.hpp), tell the sanitizers;
//   3. jump into the fiber, passing its record; the fiber stores who resumed it;
//   4. ... the fiber runs until it yields or ends, and jumps back ...
//   5. store the fiber's new context, swap the exception state back, restore
//      the current fiber and region, rethrow what escaped the body.
// The fiber's side of a switch touches only its own record.
#include <cospace/fiber.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "context/backend.hpp"
#include "fiber_control.hpp"
#include "fiber_locals.hpp"
#include "space/fault_handler.hpp"

namespace cospace::detail {
namespace {

[[gnu::tls_model("initial-exec")]] thread_local fiber_control* t_current = nullptr;

const context::backend& backend = context::selected;

// Both resume and forced unwinding switch in the same way; only the jump differs.
template <class Jump>
void switch_into(fiber_control* f, Jump&& jump) {
  prepare_thread_for_fibers();
  region* const outer_region = current_region();
  f->outer = t_current;
  f->state = fiber_state::running;
  t_current = f;
  set_current_region(f->stack.owner_region);
  swap_exception_state(f->exceptions);
  before_resume(f->tools);
  const cospace_transfer back = jump();
  after_resume(f->tools);
  f->context = back.from;
  swap_exception_state(f->exceptions);
  set_current_region(outer_region);
  t_current = f->outer;
}

[[noreturn]] void refuse(const fiber_control* f, const char* mistake) {
  throw fiber_error("cospace: " + describe(f) + " " + mistake);
}

// Runs on top of a suspended fiber being destroyed: it resumes inside its
// pending yield, and this exception leaves through that call.
cospace_transfer throw_forced_unwind(cospace_transfer t) {
  auto* f = static_cast<fiber_control*>(t.data);
  fiber_arrived(f->tools);
  f->resumer = t.from;
  throw forced_unwind();
}

}  // namespace

fiber_control* current_fiber() noexcept { return t_current; }

// The root of every fiber's stack.
void fiber_entry(cospace_transfer t) noexcept {
  auto* f = static_cast<fiber_control*>(t.data);
  fiber_arrived(f->tools);
  f->resumer = t.from;
  try {
    f->ops->run(f->body);
  } catch (const forced_unwind&) {
    f->unwound = true;
  } catch (...) {
    f->escaped = std::current_exception();
  }
  if (f->unwind_requested && !f->unwound) {
    fatal(describe(f) + " caught cospace::forced_unwind without rethrowing it; a catch (...) "
                        "in a fiber must rethrow, or the fiber's stack cannot be unwound");
  }
  f->ops->destroy(f->body);
  f->body = nullptr;
  delete f->locals;  // fiber-locals go first: their destructors may use the arena
  f->locals = nullptr;
  delete f->arena;
  f->arena = nullptr;
  f->state = fiber_state::done;
  fiber_leaving(f->tools, true);
  backend.jump(f->resumer, nullptr);
  fatal(describe(f) + " was resumed after its last switch");
}

void resume_fiber(fiber_control* f) {
  if (f->state == fiber_state::running)
    refuse(f, f == t_current ? "tried to resume itself" : "was resumed while it is running");
  if (f->state == fiber_state::done) refuse(f, "was resumed after it finished");
  switch_into(f, [f] { return backend.jump(f->context, f); });
  if (f->escaped) [[unlikely]]
    std::rethrow_exception(std::exchange(f->escaped, nullptr));
}

void unwind_fiber(fiber_control* f) noexcept {
  f->unwind_requested = true;
  switch_into(f, [f] { return backend.ontop(f->context, f, &throw_forced_unwind); });
  if (f->state != fiber_state::done) {
    fatal(describe(f) + " caught cospace::forced_unwind without rethrowing it and went on "
                        "running; a catch (...) in a fiber must rethrow");
  }
}

}  // namespace cospace::detail

namespace cospace {

void this_fiber::yield() {
  detail::fiber_control* f = detail::t_current;
  if (f == nullptr) throw fiber_error("cospace: this_fiber::yield() was called outside any fiber");
  f->state = detail::fiber_state::suspended;
  detail::fiber_leaving(f->tools, false);
  const cospace_transfer t = detail::backend.jump(f->resumer, nullptr);
  detail::fiber_arrived(f->tools);
  f->resumer = t.from;
}

}  // namespace cospace
