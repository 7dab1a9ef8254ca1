// C++ consumer of an installed cospace.
#include <cospace/context.h>

#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  std::vector<unsigned char> stack(64 * 1024 + 16);
  auto top = reinterpret_cast<std::uintptr_t>(stack.data() + stack.size()) & ~std::uintptr_t{15};
  cospace_context ctx = nullptr;
  cospace_status status = cospace_context_create(reinterpret_cast<void*>(top), 64 * 1024,
                                                 [](cospace_transfer t) {
                                                   *static_cast<int*>(t.data) *= 2;
                                                   cospace_context_jump(t.from, t.data);
                                                 }, &ctx);
  if (status != COSPACE_OK) return 1;
  int value = 21;
  cospace_context_jump(ctx, &value);
  std::printf("consumer: %d\n", value);
  return value == 42 ? 0 : 1;
}
