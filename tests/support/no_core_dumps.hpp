// Death tests abort or fault on purpose, often with terabytes of address
// space reserved: a core dump of that could fill the disk. Call this first
// inside every death-test statement.
#pragma once

#include <sys/resource.h>

namespace cospace::test {

inline void no_core_dumps() {
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
}

}  // namespace cospace::test
