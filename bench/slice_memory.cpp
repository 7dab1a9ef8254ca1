// Resident memory per suspended sliced fiber: (delta VmRSS + delta VmPTE) / N
// from /proc/self/status, with everything suspended at once.
//
//   cospace_bench_slice_memory fibers   [N=1000000]  [local=200]
//       N cospace::fiber on stack_kind::sliced (one shared stack), each
//       suspended holding a `local`-byte array: record + heap block per fiber
//   cospace_bench_slice_memory tasklets [N=10000000] [local=120]
//       N slices of the C primitives (cospace/slice.h) on the thread's own
//       stack, each suspended holding a `local`-byte array
//
// The targets: <= 400 bytes per fiber at 10^6 with a 200-byte local;
// 10^7 suspended tasklets with 120-byte locals within 2.5 GB.
#include <cospace/fiber.hpp>
#include <cospace/slice.h>
#include <cospace/slicing.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') return std::atol(line.c_str() + n + 1);
  return 0;
}

long resident_kib() { return status_kib("VmRSS") + status_kib("VmPTE"); }

void report(const char* what, std::size_t count, std::size_t local, long before, long after, double seconds) {
  const double bytes = static_cast<double>(after - before) * 1024.0;
  std::printf("%s: %zu suspended, %zu-byte local each: %.1f MiB resident in all, %.0f bytes per fiber "
              "(%.2f s to make and suspend them)\n",
              what, count, local, bytes / (1024.0 * 1024.0), bytes / static_cast<double>(count), seconds);
}

// A fiber holding a local array of N bytes: a plain array for the sizes the
// targets name (what a real body has), an alloca for any other.
template <std::size_t N>
[[gnu::noinline]] void hold_array_and_yield() {
  volatile char bytes[N];
  for (auto& b : bytes) b = 1;
  cospace::this_fiber::yield();
  bytes[0] = bytes[N - 1];
}

[[gnu::noinline]] void hold_and_yield(std::size_t local) {
  if (local == 200) return hold_array_and_yield<200>();
  if (local == 120) return hold_array_and_yield<120>();
  auto* bytes = static_cast<volatile char*>(__builtin_alloca(local));
  std::memset(const_cast<char*>(bytes), 1, local);
  cospace::this_fiber::yield();
  bytes[0] = bytes[local - 1];
}

// The body of every fiber: for the sizes the targets name it is the array
// holder itself (no dispatch frame of this program's own under it).
void (*body_for(std::size_t local))() {
  if (local == 200) return &hold_array_and_yield<200>;
  if (local == 120) return &hold_array_and_yield<120>;
  return nullptr;
}

int measure_fibers(std::size_t count, std::size_t local) {
  cospace::configure_slicing({.shared_stacks = 1});
  std::vector<cospace::fiber> fibers;
  fibers.reserve(count);
  void (*const array_body)() = body_for(local);
  const auto make = [array_body, local] {
    const cospace::fiber_options options{.stack = cospace::stack_kind::sliced};
    if (array_body != nullptr) return cospace::fiber(array_body, options);
    return cospace::fiber([local] { hold_and_yield(local); }, options);
  };
  // Warm-up: the thread's copier and shared stack, and the vector.
  { cospace::fiber warm = make(); warm.resume(); }
  const long before = resident_kib() + static_cast<long>(count * sizeof(cospace::fiber) / 1024);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    fibers.push_back(make());
    fibers.back().resume();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long after = resident_kib();
  report("cospace::fiber (sliced)", count, local, before, after, seconds);
  std::printf("  live slice of a suspended fiber: %zu bytes\n", fibers.front().stack_in_use());
  std::printf("  (the handle vector, %zu bytes per fiber, is not counted; the record is)\n", sizeof(cospace::fiber));
  for (auto& f : fibers) f.resume();
  return 0;
}

struct tasklet_run {
  cospace_slice* scheduler = nullptr;
  std::size_t local = 0;
};

template <std::size_t N>
[[gnu::noinline]] void tasklet_hold_array(cospace_slice* self, tasklet_run* run) {
  volatile char bytes[N];
  for (auto& b : bytes) b = 1;
  cospace_slice_switch(self, run->scheduler);
  bytes[0] = bytes[N - 1];
}

[[gnu::noinline]] void tasklet_hold(cospace_slice* self, tasklet_run* run) {
  if (run->local == 120) return tasklet_hold_array<120>(self, run);
  if (run->local == 200) return tasklet_hold_array<200>(self, run);
  auto* bytes = static_cast<volatile char*>(__builtin_alloca(run->local));
  std::memset(const_cast<char*>(bytes), 1, run->local);
  cospace_slice_switch(self, run->scheduler);
  bytes[0] = bytes[run->local - 1];
}

[[gnu::noinline]] int measure_tasklets(std::size_t count, std::size_t local, void* top) {
  tasklet_run run;
  run.local = local;
  if (cospace_slice_attach(&run.scheduler, top) != COSPACE_OK) {
    std::fprintf(stderr, "%s\n", cospace_last_error_message());
    return 1;
  }
  void* base = static_cast<char*>(cospace_stack_position()) - 8192;
  std::vector<cospace_slice*> slices(count);
  // For the sizes the targets name the slice's function is the array holder
  // itself (no dispatch frame of this program's own under it).
  cospace_slice_function body = [](cospace_slice* self, void* arg) { tasklet_hold(self, static_cast<tasklet_run*>(arg)); };
  if (local == 120) body = [](cospace_slice* self, void* arg) { tasklet_hold_array<120>(self, static_cast<tasklet_run*>(arg)); };
  if (local == 200) body = [](cospace_slice* self, void* arg) { tasklet_hold_array<200>(self, static_cast<tasklet_run*>(arg)); };
  const long before = resident_kib();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    if (cospace_slice_create(&slices[i], base, body, &run) != COSPACE_OK ||
        cospace_slice_switch(run.scheduler, slices[i]) != COSPACE_OK) {
      std::fprintf(stderr, "tasklet %zu: %s\n", i, cospace_last_error_message());
      return 1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long after = resident_kib();
  report("C primitives (cospace_slice)", count, local, before, after, seconds);
  std::printf("  heap bytes held by a suspended tasklet's slice: %zu\n", cospace_slice_saved_bytes(slices.front()));
  std::printf("  (the array of %zu slice pointers, 8 bytes per tasklet, is counted)\n", count);
  for (cospace_slice* s : slices) {
    cospace_slice_switch(run.scheduler, s);
    cospace_slice_destroy(s);
  }
  cospace_slice_destroy(run.scheduler);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "fibers";
  const bool fibers = mode == "fibers";
  if (!fibers && mode != "tasklets") {
    std::fprintf(stderr, "usage: %s fibers|tasklets [count] [local bytes]\n", argv[0]);
    return 2;
  }
  const std::size_t count = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : (fibers ? 1000000 : 10000000);
  const std::size_t local = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : (fibers ? 200 : 120);
  if (count == 0 || local == 0) {
    std::fprintf(stderr, "count and local must be positive\n");
    return 2;
  }
  return fibers ? measure_fibers(count, local) : measure_tasklets(count, local, cospace_stack_position());
}
