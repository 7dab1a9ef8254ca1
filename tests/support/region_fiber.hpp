// A minimal fiber on a region stack, for the space's tests: the context layer
// plus the two things the space needs from a fiber (its region acquired and
// released, and the thread's current region set while it runs). The real
// fiber API is built on the same calls.
#pragma once

#include <cospace/context.h>

#include <exception>
#include <functional>
#include <stdexcept>
#include <utility>

#include "space/fault_handler.hpp"
#include "space/space_impl.hpp"

namespace cospace::test {

class region_fiber {
 public:
  using body_type = std::function<void(region_fiber&)>;

  region_fiber(detail::space_impl& space, body_type body, detail::stack_request request = {})
      : space_(space), body_(std::move(body)) {
    detail::prepare_thread_for_fibers();
    region_ = space_.acquire_stack(request);
    cospace_context ctx = nullptr;
    const cospace_status status = cospace_context_create(
        reinterpret_cast<void*>(region_->top), region_->top - region_->lo, &entry, &ctx);
    if (status != COSPACE_OK) {
      space_.release_stack(region_);
      throw std::runtime_error(cospace_status_message(status));
    }
    context_ = ctx;
  }
  region_fiber(const region_fiber&) = delete;
  region_fiber& operator=(const region_fiber&) = delete;
  ~region_fiber() {
    // Tests run fibers to completion; one left suspended simply has its region
    // released (nothing on its stack needs destroying in these tests).
    space_.release_stack(region_);
  }

  // Runs the fiber until it yields or ends; rethrows what escaped its body.
  void resume() {
    if (done_) throw std::logic_error("region_fiber: resumed after it finished");
    detail::region* outer = detail::current_region();
    detail::set_current_region(region_);
    cospace_transfer t = cospace_context_jump(context_, this);
    detail::set_current_region(outer);
    context_ = t.from;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }
  // Inside the body: back to whoever resumed.
  void yield() {
    cospace_transfer t = cospace_context_jump(caller_, nullptr);
    caller_ = t.from;
  }
  bool done() const noexcept { return done_; }
  detail::region* region() const noexcept { return region_; }

 private:
  static void entry(cospace_transfer t) {
    auto* self = static_cast<region_fiber*>(t.data);
    self->caller_ = t.from;
    try {
      self->body_(*self);
    } catch (...) {
      self->error_ = std::current_exception();
    }
    self->done_ = true;
    cospace_context_jump(self->caller_, nullptr);
    std::terminate();  // never resumed again
  }

  detail::space_impl& space_;
  body_type body_;
  detail::region* region_ = nullptr;
  cospace_context context_ = nullptr;
  cospace_context caller_ = nullptr;
  std::exception_ptr error_;
  bool done_ = false;
};

// Recurses until `bytes` of stack lie below the caller, touching every page.
[[gnu::noinline]] inline std::size_t recurse(std::size_t bytes) {
  volatile char frame[1024];
  frame[0] = 1;
  frame[sizeof frame - 1] = 1;
  if (bytes <= sizeof frame) return frame[0];
  return recurse(bytes - sizeof frame) + frame[sizeof frame - 1];
}

}  // namespace cospace::test
