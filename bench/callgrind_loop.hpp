// What the two callgrind drivers (cospace_switch_instructions,
// cospace_fiber_instructions) share: collection switched on around the
// measured loop only, the count argument, and the line that tells
// count_instructions.sh the count is the loop's alone.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define COSPACE_BENCH_COLLECT_LOOP_ONLY 1
#else
#define COSPACE_BENCH_COLLECT_LOOP_ONLY 0
#endif

namespace cospace::bench {

// Turns callgrind's collection on just before a loop and off just after it
// (run under --collect-atstart=no). Outside callgrind the client requests are
// a few no-op instructions.
struct collect_scope {
  collect_scope() { toggle(); }
  ~collect_scope() { toggle(); }
  collect_scope(const collect_scope&) = delete;
  collect_scope& operator=(const collect_scope&) = delete;

 private:
  static void toggle() {
#if COSPACE_BENCH_COLLECT_LOOP_ONLY
    CALLGRIND_TOGGLE_COLLECT;
#endif
  }
};

// argv[2], if given, as a positive count; `fallback` without it. Prints the
// usage or the complaint and returns nothing on bad arguments.
inline std::optional<std::uint64_t> loop_count(int argc, char** argv, std::uint64_t fallback, const char* program,
                                               const char* what, const char* usage) {
  if (argc < 2 || argc > 3) {
    std::fputs(usage, stderr);
    return std::nullopt;
  }
  if (argc == 2) return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || n == 0) {
    std::fprintf(stderr, "%s: %s must be a positive number, got '%s'\n", program, what, argv[2]);
    return std::nullopt;
  }
  return n;
}

// Whether callgrind's "Collected" figure is the loop's alone (the driver script checks this text).
inline const char* collection_note() {
  return COSPACE_BENCH_COLLECT_LOOP_ONLY ? "callgrind collects the loop only"
                                         : "no callgrind.h: callgrind counts the whole program";
}

}  // namespace cospace::bench
