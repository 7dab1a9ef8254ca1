// The flat ping-pong under every raw-switch benchmark: the benchmark loop
// jumps to a "pong" context, which jumps straight back, so one iteration is a
// round trip of two one-way switches, written in the loop itself (no call
// that returns after a switch). Any switch API with this shape plugs in:
//
//   struct some_switch {
//     using transfer = ...;                                // what a jump returns
//     static handle make(void* top, std::size_t size, void (*entry)(transfer));
//     static transfer jump(handle to, void* data);
//     static handle from(transfer t);                      // who jumped to us
//   };
#pragma once

#include <benchmark/benchmark.h>
#include <cospace/context.h>

#include <cstddef>

#include "context/backends.hpp"
#include "stack.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/detail/fcontext.hpp>
#endif

namespace cospace::bench {

// One of cospace's context backends, called directly (as the library does).
template <const context::backend& B>
struct backend_switch {
  using transfer = cospace_transfer;
  static cospace_context make(void* top, std::size_t size, void (*entry)(transfer)) {
    return B.make(top, size, entry);
  }
  static transfer jump(cospace_context to, void* data) { return B.jump(to, data); }
  static cospace_context from(transfer t) { return t.from; }
};

#if COSPACE_BENCH_HAVE_BOOST
// Boost.Context's own switch (make_fcontext / jump_fcontext).
struct fcontext_switch {
  using transfer = boost::context::detail::transfer_t;
  static boost::context::detail::fcontext_t make(void* top, std::size_t size, void (*entry)(transfer)) {
    return boost::context::detail::make_fcontext(top, size, entry);
  }
  static transfer jump(boost::context::detail::fcontext_t to, void* data) {
    return boost::context::detail::jump_fcontext(to, data);
  }
  static boost::context::detail::fcontext_t from(transfer t) { return t.fctx; }
};
#endif

template <class Switch>
void pong_forever(typename Switch::transfer t) {
  for (;;) t = Switch::jump(Switch::from(t), nullptr);
}

// Times round trips against a pong context on a stack of its own, then
// `report(state)` accounts them (report_ops, report_switches). The pong
// context is left suspended; its stack is unmapped with nothing to destroy.
template <class Switch, class Report>
void flat_round_trips(benchmark::State& state, Report report) {
  mapped_stack stack;
  typename Switch::transfer t = Switch::jump(Switch::make(stack.top(), stack.size(), &pong_forever<Switch>), nullptr);
  for (auto _ : state) t = Switch::jump(Switch::from(t), nullptr);
  report(state);
}

template <class Switch>
void return_at_once(typename Switch::transfer t) {
  Switch::jump(Switch::from(t), nullptr);  // never resumed: the next make reuses the stack
}

// Times making a context on a ready stack and running it until it jumps
// back: the context part of a fiber's create + run.
template <class Switch, class Report>
void make_and_run(benchmark::State& state, Report report) {
  mapped_stack stack;
  for (auto _ : state) {
    typename Switch::transfer t = Switch::jump(Switch::make(stack.top(), stack.size(), &return_at_once<Switch>), nullptr);
    benchmark::DoNotOptimize(t);
  }
  report(state);
}

}  // namespace cospace::bench
