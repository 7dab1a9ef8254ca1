#include <cstdio>
#include <cstdlib>

#include "backends.hpp"

extern "C" void cospace_context_entry_returned() noexcept {
  std::fputs(
      "cospace: a context's entry function returned; an entry must end by jumping to another "
      "context\n",
      stderr);
  std::abort();
}
