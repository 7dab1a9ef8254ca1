// Why released stack pages are given back with MADV_DONTNEED rather than
// MADV_FREE (docs/design.md, "Release, parking and trimming"): for each advice,
// the cost of the call, the cost of touching the pages again (the next fiber
// on that range) and VmRSS afterwards.
//
//   cospace_release_advice [KiB per stack, default 64]
#include <sys/mman.h>
#include <time.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

double now() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t bytes = (argc > 1 ? std::stoul(argv[1]) : 64) * 1024;
  constexpr int rounds = 2000;
  auto* memory = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (memory == MAP_FAILED) return 1;
  for (const int advice : {MADV_DONTNEED, MADV_FREE}) {
    double call = 0, touch = 0;
    long rss_after = 0;
    for (int round = 0; round < rounds; ++round) {
      const double t0 = now();
      for (std::size_t i = 0; i < bytes; i += 4096) memory[i] = 1;
      const double t1 = now();
      madvise(memory, bytes, advice);
      const double t2 = now();
      touch += t1 - t0;
      call += t2 - t1;
      if (round == rounds - 1) rss_after = rss_kib();
    }
    std::printf("%-14s %6zu KiB: advice %7.2f us, touching again %7.2f us, VmRSS after %ld KiB\n",
                advice == MADV_DONTNEED ? "MADV_DONTNEED" : "MADV_FREE", bytes / 1024,
                call / rounds * 1e6, touch / rounds * 1e6, rss_after);
  }
  return 0;
}
