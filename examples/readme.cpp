// The example in README.md, built and run by the test suite.
#include <cospace/fiber.hpp>
#include <cospace/generator.hpp>
#include <cstdio>

// Recursion this deep would overflow any fixed-size fiber stack you would dare to allocate.
int depth(int n) { volatile char frame[1024]; frame[0] = 0; return n == 0 ? frame[0] : 1 + depth(n - 1); }

int main() {
  cospace::fiber worker([] {
    std::printf("deep: %d\n", depth(100000));   // ~100 MiB of stack, mapped as it is touched
    cospace::this_fiber::yield();               // suspend; main continues
    std::printf("resumed\n");
  }, {.name = "worker"});
  worker.resume();                              // runs until the yield
  worker.resume();                              // runs to the end
  cospace::generator<int> squares([](auto& out) { for (int i = 1; i <= 3; ++i) out.yield(i * i); });
  for (int v : squares) std::printf("%d\n", v);  // 1 4 9
}
