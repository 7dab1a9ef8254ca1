// Where the time of an x86-64 switch goes: the library's cospace_asm_jump
// timed next to variants of it that each add or drop one part (the
// floating-point control stores, the compare, the reloads, the final
// `ret` instead of `jmp`), plus Boost's jump_fcontext when available, and the
// floating-point control instructions alone in a loop (instruction/*). The
// variants live in x86_64_switch_variants.S and are for this diagnosis only.
//
// Same ping-pong and accounting as context_switch.cpp (switch_bench.hpp).
//   cospace_bench_switch_variants --benchmark_repetitions=5 --benchmark_min_time=0.5
#include <cstdint>
#include <cstdio>
#include <string>

#include "context/backends.hpp"
#include "ping_pong.hpp"
#include "switch_bench.hpp"

extern "C" {
cospace_transfer cospace_variant_none(cospace_context to, void* data);
cospace_transfer cospace_variant_none_ret(cospace_context to, void* data);
cospace_transfer cospace_variant_stmxcsr(cospace_context to, void* data);
cospace_transfer cospace_variant_fnstcw(cospace_context to, void* data);
cospace_transfer cospace_variant_store_both(cospace_context to, void* data);
cospace_transfer cospace_variant_compare(cospace_context to, void* data);
cospace_transfer cospace_variant_compare_ret(cospace_context to, void* data);
cospace_transfer cospace_variant_compare_mxcsr(cospace_context to, void* data);
cospace_transfer cospace_variant_reload(cospace_context to, void* data);
cospace_transfer cospace_variant_reload_mxcsr(cospace_context to, void* data);
cospace_transfer cospace_variant_reload_x87(cospace_context to, void* data);
cospace_transfer cospace_variant_compare_late(cospace_context to, void* data);
cospace_transfer cospace_variant_reload_mxcsr_compare_x87(cospace_context to, void* data);
cospace_transfer cospace_variant_reload_mxcsr_compare_x87_late(cospace_context to, void* data);
}

namespace {

using cospace::bench::report_switches;
using jump_function = cospace_transfer (*)(cospace_context, void*);

constexpr const char* jump_fcontext_name = "variant/boost_jump_fcontext";

// A variant with the library's frame: cospace_asm_make makes its contexts.
template <jump_function Jump>
struct variant_switch {
  using transfer = cospace_transfer;
  static cospace_context make(void* top, std::size_t size, void (*entry)(transfer)) {
    return cospace_asm_make(top, size, entry);
  }
  static transfer jump(cospace_context to, void* data) { return Jump(to, data); }
  static cospace_context from(transfer t) { return t.from; }
};

template <jump_function Jump>
void bm_variant(benchmark::State& state) {
  cospace::bench::flat_round_trips<variant_switch<Jump>>(state, report_switches);
}

#if COSPACE_BENCH_HAVE_BOOST
void bm_jump_fcontext(benchmark::State& state) {
  cospace::bench::flat_round_trips<cospace::bench::fcontext_switch>(state, report_switches);
}
#endif

// Single instructions in a loop of their own (throughput, not latency): what
// each floating-point control instruction costs on this CPU, outside any switch.
// Not reported as switches, so the summary leaves them out.
void bm_loop_only(benchmark::State& state) {
  for (auto _ : state) benchmark::ClobberMemory();
}

void bm_stmxcsr(benchmark::State& state) {
  std::uint32_t word = 0;
  for (auto _ : state) asm volatile("stmxcsr %0" : "=m"(word));
}

void bm_stmxcsr_then_load(benchmark::State& state) {
  std::uint32_t word = 0;
  std::uint32_t value = 0;
  for (auto _ : state) {
    asm volatile("stmxcsr %1\n\tmovl %1, %0" : "=r"(value), "=m"(word));
    benchmark::DoNotOptimize(value);
  }
}

void bm_ldmxcsr(benchmark::State& state) {
  std::uint32_t word = 0;
  asm volatile("stmxcsr %0" : "=m"(word));
  for (auto _ : state) asm volatile("ldmxcsr %0" : : "m"(word));
}

void bm_fnstcw(benchmark::State& state) {
  std::uint16_t word = 0;
  for (auto _ : state) asm volatile("fnstcw %0" : "=m"(word));
}

void bm_fldcw(benchmark::State& state) {
  std::uint16_t word = 0;
  asm volatile("fnstcw %0" : "=m"(word));
  for (auto _ : state) asm volatile("fldcw %0" : : "m"(word));
}

void register_instruction(const char* name, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);
}

void register_all() {
  using cospace::bench::register_switch;
  register_switch("variant/library_cospace_asm_jump", &bm_variant<&cospace_asm_jump>);
  register_switch("variant/none", &bm_variant<&cospace_variant_none>);
  register_switch("variant/none_ret", &bm_variant<&cospace_variant_none_ret>);
  register_switch("variant/stmxcsr", &bm_variant<&cospace_variant_stmxcsr>);
  register_switch("variant/fnstcw", &bm_variant<&cospace_variant_fnstcw>);
  register_switch("variant/store_both", &bm_variant<&cospace_variant_store_both>);
  register_switch("variant/compare", &bm_variant<&cospace_variant_compare>);
  register_switch("variant/compare_ret", &bm_variant<&cospace_variant_compare_ret>);
  register_switch("variant/compare_mxcsr", &bm_variant<&cospace_variant_compare_mxcsr>);
  register_switch("variant/reload", &bm_variant<&cospace_variant_reload>);
  register_switch("variant/reload_mxcsr", &bm_variant<&cospace_variant_reload_mxcsr>);
  register_switch("variant/reload_x87", &bm_variant<&cospace_variant_reload_x87>);
  register_switch("variant/compare_late", &bm_variant<&cospace_variant_compare_late>);
  register_switch("variant/reload_mxcsr_compare_x87", &bm_variant<&cospace_variant_reload_mxcsr_compare_x87>);
  register_switch("variant/reload_mxcsr_compare_x87_late", &bm_variant<&cospace_variant_reload_mxcsr_compare_x87_late>);
#if COSPACE_BENCH_HAVE_BOOST
  register_switch(jump_fcontext_name, &bm_jump_fcontext);
#endif
  register_instruction("instruction/loop_only", &bm_loop_only);
  register_instruction("instruction/stmxcsr", &bm_stmxcsr);
  register_instruction("instruction/stmxcsr_then_load", &bm_stmxcsr_then_load);
  register_instruction("instruction/ldmxcsr", &bm_ldmxcsr);
  register_instruction("instruction/fnstcw", &bm_fnstcw);
  register_instruction("instruction/fldcw", &bm_fldcw);
}

}  // namespace

int main(int argc, char** argv) {
#if COSPACE_BENCH_HAVE_BOOST
  const char* reference = jump_fcontext_name;
#else
  const char* reference = "variant/none";
#endif
  cospace::bench::op_summary_spec spec =
      cospace::bench::switch_summary("Switch variants (x86_64_switch_variants.S)", reference);
  spec.notes = {
      "none: no FP control work; stmxcsr/fnstcw/store_both: the stores alone;",
      "compare: the library's shape (store both, reload only on a difference);",
      "reload: Boost's shape (store both, reload both always); *_ret: end in ret, not jmp *%r8",
  };
  spec.lines.push_back(cospace::bench::switch_ratio("variant/library_cospace_asm_jump", "variant/compare"));
  return cospace::bench::run_switch_benchmarks(argc, argv, &register_all, spec);
}
