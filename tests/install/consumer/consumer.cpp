// C++ consumer of an installed cospace: a fiber, a generator and the raw context layer.
#include <cospace/context.h>
#include <cospace/fiber.hpp>
#include <cospace/generator.hpp>

#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  int steps = 0;
  cospace::fiber f([&] {
    ++steps;
    cospace::this_fiber::yield();
    ++steps;
  }, {.name = "consumer"});
  while (!f.done()) f.resume();

  int sum = 0;
  for (int v : cospace::generator<int>([](auto& out) { out.yield(20); out.yield(20); })) sum += v;

  std::vector<unsigned char> stack(64 * 1024 + 16);
  auto top = reinterpret_cast<std::uintptr_t>(stack.data() + stack.size()) & ~std::uintptr_t{15};
  cospace_context ctx = nullptr;
  if (cospace_context_create(reinterpret_cast<void*>(top), 64 * 1024,
                             [](cospace_transfer t) {
                               *static_cast<int*>(t.data) += 2;
                               cospace_context_jump(t.from, t.data);
                             }, &ctx) != COSPACE_OK)
    return 1;
  cospace_context_jump(ctx, &sum);
  std::printf("consumer: %d steps, %d\n", steps, sum);
  return steps == 2 && sum == 42 ? 0 : 1;
}
