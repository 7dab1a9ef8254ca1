// A program for the gdb test of tools/gdb/cospace.py: fibers in every state
// the extension shows, then a checkpoint where the test stops and looks.
//   alpha, beta  suspended, each inside its own distinctive function
//   gamma        created (never resumed)
//   delta        done (its body returned; the handle still holds it)
//   omega        suspended on a fixed stack
//   kappa        suspended, on a region of a space the program made
//   tau, sigma   suspended sliced fibers on one shared stack: sigma ran last,
//                so its slice is resident and tau's is saved in the heap; tau
//                runs deeper than two fibers of the same body before it did,
//                so its saved bytes are split between its record's inline
//                area and a heap block of their own (src/slice/slice.hpp)
//   psi          a sliced fiber that ran and ended: the shared stack it had to
//                itself stays pooled, idle, and must not be taken for a fiber
//   epsilon      running, on a second thread (if the backend allows it there),
//                unless the argument is `one-thread` (qemu-user's gdbstub
//                cannot be relied on to stop a second thread)
#include <cospace/fiber.hpp>
#include <cospace/slicing.hpp>
#include <cospace/space.hpp>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

int g_steps = 0;

[[gnu::noinline]] void alpha_waits_here(int depth) {
  if (depth > 0) {
    alpha_waits_here(depth - 1);
  } else {
    cospace::this_fiber::yield();
  }
  asm volatile("" ::: "memory");  // no tail call: keep this frame on the stack
  ++g_steps;
}

[[gnu::noinline]] void beta_waits_here() {
  cospace::this_fiber::yield();
  asm volatile("" ::: "memory");
  ++g_steps;
}

[[gnu::noinline]] void omega_waits_here() {
  cospace::this_fiber::yield();
  asm volatile("" ::: "memory");
  ++g_steps;
}

[[gnu::noinline]] void kappa_waits_here() {
  cospace::this_fiber::yield();
  asm volatile("" ::: "memory");
  ++g_steps;
}

[[gnu::noinline]] void tau_waits_here(int depth) {
  if (depth > 0) {
    tau_waits_here(depth - 1);
  } else {
    cospace::this_fiber::yield();
  }
  asm volatile("" ::: "memory");
  ++g_steps;
}

// tau and its forerunners: one body type, so one size hint for their slices.
cospace::fiber sliced_tau(int depth, const char* name) {
  return cospace::fiber([depth] { tau_waits_here(depth); }, {.stack = cospace::stack_kind::sliced, .name = name});
}

[[gnu::noinline]] void sigma_waits_here() {
  cospace::this_fiber::yield();
  asm volatile("" ::: "memory");
  ++g_steps;
}

std::atomic<bool> g_epsilon_started{false};
std::atomic<bool> g_epsilon_may_finish{false};

[[gnu::noinline]] void epsilon_spins_here() {
  g_epsilon_started.store(true);
  while (!g_epsilon_may_finish.load()) {
  }
}

void print_fiber(const char* what, const cospace::fiber& f) {
  std::printf("fiber %s has id %" PRIu64 ", %zu bytes in use\n", what, f.id(), f.stack_in_use());
}

}  // namespace

extern "C" [[gnu::noinline]] void gdb_checkpoint() { asm volatile("" ::: "memory"); }

int main(int argc, char** argv) {
  const bool one_thread = argc > 1 && std::strcmp(argv[1], "one-thread") == 0;
  cospace::fiber alpha([] { alpha_waits_here(2); }, {.name = "alpha"});
  cospace::fiber beta([] { beta_waits_here(); }, {.name = "beta"});
  cospace::fiber gamma([] { ++g_steps; }, {.name = "gamma"});
  cospace::fiber delta([] { ++g_steps; }, {.name = "delta"});
  cospace::fiber omega([] { omega_waits_here(); }, {.stack = cospace::stack_kind::fixed, .name = "omega"});
  cospace::space own_space({.reservation = std::size_t{1} << 32});  // outlives kappa
  cospace::fiber kappa([] { kappa_waits_here(); }, {.name = "kappa", .space = &own_space});
  cospace::configure_slicing({.shared_stacks = 1});
  cospace::fiber tau, sigma;
  try {
    {  // shallow forerunners: the second one's start saves the first one's slice (the hint)
      cospace::fiber first = sliced_tau(0, "forerunner");
      cospace::fiber second = sliced_tau(0, "forerunner");
      first.resume();
      second.resume();
    }  // both unwound and gone
    tau = sliced_tau(3, "tau");
    sigma = cospace::fiber([] { sigma_waits_here(); }, {.stack = cospace::stack_kind::sliced, .name = "sigma"});
    // Another limit, so another shared stack, left idle when psi ends.
    cospace::fiber psi([] { ++g_steps; }, {.stack = cospace::stack_kind::sliced, .name = "psi", .max_stack = 1 << 20});
    psi.resume();
  } catch (const cospace::fiber_error& e) {  // ThreadSanitizer builds have no sliced stacks
    std::printf("sliced fibers are not available: %s\n", e.what());
    tau = cospace::fiber([] { tau_waits_here(3); });  // on region stacks instead
    sigma = cospace::fiber([] { sigma_waits_here(); });
    ++g_steps;  // psi's step
  }
  alpha.resume();
  beta.resume();
  delta.resume();
  omega.resume();
  kappa.resume();
  tau.resume();
  sigma.resume();
  print_fiber("alpha", alpha);
  print_fiber("beta", beta);
  print_fiber("omega", omega);
  print_fiber("kappa", kappa);
  print_fiber("tau", tau);
  print_fiber("sigma", sigma);
  std::thread other;
  if (one_thread) {
    g_epsilon_started.store(true);
  } else {
    other = std::thread([] {
      try {
        cospace::fiber epsilon([] { epsilon_spins_here(); }, {.name = "epsilon"});
        epsilon.resume();
      } catch (const cospace::fiber_error& e) {
        // The sjlj backend refuses a stack above the creating thread's own.
        std::printf("fiber epsilon could not start: %s\n", e.what());
        g_epsilon_started.store(true);
      }
    });
  }
  while (!g_epsilon_started.load()) {
  }
  std::fflush(stdout);

  gdb_checkpoint();

  g_epsilon_may_finish.store(true);
  if (other.joinable()) other.join();

  alpha.resume();
  beta.resume();
  gamma.resume();
  omega.resume();
  kappa.resume();
  tau.resume();
  sigma.resume();
  const bool all_done = alpha.done() && beta.done() && gamma.done() && delta.done() && omega.done() &&
                        kappa.done() && tau.done() && sigma.done();
  std::printf("fibers finished: %s, %d steps\n", all_done ? "all done" : "NOT all done", g_steps);
  return all_done && g_steps == 14 ? 0 : 1;  // tau counts 4 steps (its depth + 1)
}
