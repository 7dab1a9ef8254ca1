#include "pingpong.hpp"

#include <sys/mman.h>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "context/validate.hpp"

namespace cospace::tools {
namespace {

struct pong_state {
  const context::backend* b;
};

void pong(cospace_transfer t) {
  const auto* state = static_cast<pong_state*>(t.data);
  const context::backend& b = *state->b;
  for (;;) t = b.jump(t.from, t.data);
}

}  // namespace

pingpong_result pingpong(const context::backend& b, std::uint64_t round_trips) {
  constexpr std::size_t stack_size = 256 * 1024;
  void* stack = mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) throw std::runtime_error("mmap of a demo stack failed");
  void* top = static_cast<std::byte*>(stack) + stack_size;
  const cospace_status status = context::validate(b, top, stack_size, &pong);
  if (status != COSPACE_OK) {
    munmap(stack, stack_size);
    throw std::runtime_error(std::string(b.name) + ": " + cospace_status_message(status));
  }
  pong_state state{&b};
  cospace_transfer t = b.jump(b.make(top, stack_size, &pong), &state);
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < round_trips; ++i) t = b.jump(t.from, &state);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  // The pong context stays suspended forever; its stack holds nothing to destroy.
  munmap(stack, stack_size);
  return {2 * round_trips, elapsed.count()};
}

}  // namespace cospace::tools
