#include "demo.hpp"

#include <cospace/context.h>
#include <cospace/space.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "depth_mix.hpp"
#include "machine.hpp"
#include "runs.hpp"
#include "workload.hpp"

namespace cospace::tool {
namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool thread_sanitizer = true;
#else
constexpr bool thread_sanitizer = false;
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
// ThreadSanitizer tracks every fiber as a thread and dies past 8,128 of them.
constexpr std::uint64_t thread_sanitizer_fibers = 8000;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = KiB * 1024;
// The size of every stack in the fixed-size alternatives.
constexpr std::uint64_t fixed_stack_bytes = 64 * KiB;
// A fiber counts as fitting a fixed stack only with this much to spare: the
// top of a stack is placed a little differently by each kind and library.
constexpr std::uint64_t fit_margin = 1 * KiB;
// Memory the demo leaves to everything else on the machine.
constexpr std::uint64_t memory_headroom = 512 * MiB;
// Mappings left for the rest of the process when a run needs one per stack.
constexpr std::uint64_t mapping_headroom = 1000;

std::uint64_t page_bytes() { return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)); }
std::uint64_t round_up(std::uint64_t n, std::uint64_t to) { return (n + to - 1) / to * to; }

// What a fiber of `depth` needs from its stack's top: the measured overhead of
// a depth-0 fiber plus the depth plus the recursion's last, partial frames.
std::uint64_t need_of(std::uint32_t depth, const stack_overhead& overhead) {
  return overhead.at_depth_zero + depth + 2 * frame_bytes;
}

// "989,996 under 1 KiB, 10,000 at 4 KiB-1 MiB ..." from the drawn depths.
std::string describe_depths(const std::vector<std::uint32_t>& depths) {
  struct bucket {
    std::uint64_t below;
    const char* label;
    std::uint64_t count;
  } buckets[] = {{1 * KiB, "under 1 KiB", 0},      {4 * KiB, "at 1-4 KiB", 0},
                 {64 * KiB, "at 4-64 KiB", 0},     {1 * MiB, "at 64 KiB-1 MiB", 0},
                 {64 * MiB, "at 1-64 MiB", 0},     {~std::uint64_t{0}, "at 64 MiB or deeper", 0}};
  std::uint64_t deepest = 0;
  for (std::uint32_t d : depths) {
    deepest = std::max<std::uint64_t>(deepest, d);
    for (bucket& b : buckets) {
      if (d < b.below) {
        ++b.count;
        break;
      }
    }
  }
  std::string text;
  for (const bucket& b : buckets) {
    if (b.count == 0) continue;
    if (!text.empty()) text += ", ";
    text += with_commas(b.count) + " " + b.label;
  }
  return text + " (deepest " + human_bytes(static_cast<double>(deepest)) + ")";
}

std::string describe_limits(const machine_limits& m) {
  return human_bytes(static_cast<double>(m.mem_available)) + " available, vm.overcommit_memory " +
         std::to_string(m.overcommit_mode) + ", vm.max_map_count " + with_commas(m.max_map_count) +
         ", RLIMIT_AS " + (m.address_limit ? human_bytes(static_cast<double>(*m.address_limit)) : "unlimited");
}

// The fibers of `depths` that fit a fixed stack of `usable` bytes, in index order.
std::vector<std::uint32_t> fitting(const std::vector<std::uint32_t>& depths, const stack_overhead& overhead) {
  std::vector<std::uint32_t> fit;
  for (std::uint32_t i = 0; i < depths.size(); ++i) {
    if (need_of(depths[i], overhead) + fit_margin <= overhead.usable) fit.push_back(i);
  }
  return fit;
}

std::uint64_t touched_bytes(const std::vector<std::uint32_t>& depths, const std::vector<std::uint32_t>& which,
                            const stack_overhead& overhead) {
  std::uint64_t sum = 0;
  for (std::uint32_t i : which) sum += round_up(need_of(depths[i], overhead), page_bytes());
  return sum;
}

// The order region fibers start in, or the reason the space cannot hold them.
// Balanced placement halves the largest free span, so among n fibers in R
// bytes a region made late is sure of about R/(4n) below its top; a fiber
// deeper than that starts first, while the free spans are still large, and
// the j-th of those needs R/(4j).
struct region_order {
  std::vector<std::uint32_t> order;
  std::uint64_t deep_first = 0;
  std::uint64_t sure_room = 0;
  std::optional<std::string> refusal;
};

region_order order_for_regions(const std::vector<std::uint32_t>& depths, const stack_overhead& overhead,
                               std::uint64_t reserved) {
  const std::uint64_t n = depths.size();
  const std::uint64_t region_cost = 256 * KiB;  // initial stack, guard zone, colour, rounding
  region_order r;
  const std::uint64_t share = reserved / (4 * n);
  r.sure_room = share > region_cost ? share - region_cost : 0;
  if (r.sure_room == 0) {
    r.refusal = with_commas(n) + " fibers do not fit a " + human_bytes(static_cast<double>(reserved)) +
                " reservation (each needs about 1 MiB of address space; raise RLIMIT_AS or lower --fibers)";
    return r;
  }
  std::vector<std::uint32_t> deep;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (need_of(depths[i], overhead) > r.sure_room) deep.push_back(i);
  }
  std::stable_sort(deep.begin(), deep.end(), [&](std::uint32_t a, std::uint32_t b) { return depths[a] > depths[b]; });
  for (std::uint64_t j = 0; j < deep.size(); ++j) {
    if (need_of(depths[deep[j]], overhead) + region_cost > reserved / (4 * (j + 1))) {
      r.refusal = with_commas(deep.size()) + " fibers deeper than " + human_bytes(static_cast<double>(r.sure_room)) +
                  " are too many for a " + human_bytes(static_cast<double>(reserved)) +
                  " reservation shared by " + with_commas(n) + " fibers (use a shallower --depth-mix)";
      return r;
    }
  }
  r.deep_first = deep.size();
  r.order = deep;
  r.order.reserve(n);
  std::vector<bool> is_deep(n, false);
  for (std::uint32_t i : deep) is_deep[i] = true;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!is_deep[i]) r.order.push_back(i);
  }
  return r;
}

// Resident memory a region run needs: its touched pages, plus a page-table
// page per stack while stacks lie more than 2 MiB apart (they do below ~10^7
// fibers in a large reservation), plus the handle.
std::uint64_t region_estimate(const std::vector<std::uint32_t>& depths, const std::vector<std::uint32_t>& order,
                              const stack_overhead& overhead, std::uint64_t reserved) {
  const std::uint64_t n = order.size();
  const double spread = std::min(1.0, static_cast<double>(reserved) / static_cast<double>(n) / (2.0 * MiB));
  return touched_bytes(depths, order, overhead) +
         static_cast<std::uint64_t>(static_cast<double>(n) * (4.0 * KiB * spread + 128));
}

// Fixed stacks lie side by side: their page tables are shared.
std::uint64_t packed_estimate(const std::vector<std::uint32_t>& depths, const std::vector<std::uint32_t>& order,
                              const stack_overhead& overhead, std::uint64_t per_stack_extra) {
  return touched_bytes(depths, order, overhead) + order.size() * per_stack_extra;
}

std::optional<std::string> check_memory(std::uint64_t estimate, const machine_limits& m, std::uint64_t fibers) {
  if (estimate + memory_headroom > m.mem_available) {
    const double per_fiber = static_cast<double>(estimate) / static_cast<double>(fibers);
    const auto fit = static_cast<std::uint64_t>(
        static_cast<double>(m.mem_available > memory_headroom ? m.mem_available - memory_headroom : 0) / per_fiber);
    return "this machine cannot hold " + with_commas(fibers) + " fibers: they need about " +
           human_bytes(static_cast<double>(estimate)) + " resident, " +
           human_bytes(static_cast<double>(m.mem_available)) + " is available (MemAvailable); try --fibers " +
           with_commas(fit / 1000 * 1000);
  }
  if (m.overcommit_mode == 2 && estimate > m.commit_headroom) {
    return "strict overcommit (vm.overcommit_memory=2) leaves " +
           human_bytes(static_cast<double>(m.commit_headroom)) + " to commit; " + with_commas(fibers) +
           " fibers need about " + human_bytes(static_cast<double>(estimate));
  }
  return std::nullopt;
}

std::optional<std::string> check_mappings(std::uint64_t per_fiber, std::uint64_t fibers, const machine_limits& m,
                                          const char* why) {
  const std::uint64_t need = per_fiber * fibers + count_mappings() + mapping_headroom;
  if (per_fiber == 0 || need <= m.max_map_count) return std::nullopt;
  return with_commas(fibers) + " fibers need " + with_commas(per_fiber * fibers) + " mappings (" + why +
         ") but vm.max_map_count is " + with_commas(m.max_map_count) + "; try --fibers " +
         with_commas((m.max_map_count - std::min(m.max_map_count, count_mappings() + mapping_headroom)) / per_fiber);
}

struct column {
  std::string title;
  std::string stack;
  std::optional<run_result> result;
  std::uint64_t would_overflow = 0;
  std::uint64_t not_run = 0;  // fit, but beyond a limit of this alternative
  std::string not_run_why;
  std::string note;  // why it did not run at all
};

void print_table(const std::vector<column>& columns) {
  constexpr int label_width = 22;
  constexpr int width = 26;
  auto row = [&](const char* label, auto cell) {
    std::printf("%-*s", label_width, label);
    for (const column& c : columns) std::printf("%*s", width, cell(c).c_str());
    std::printf("\n");
  };
  auto when_run = [](auto text) {
    return [text](const column& c) -> std::string { return c.result ? text(*c.result) : std::string("-"); };
  };
  auto bytes = [](std::uint64_t b) { return human_bytes(static_cast<double>(b)); };
  row("", [](const column& c) { return c.title; });
  row("stack", [](const column& c) { return c.stack; });
  row("fibers run", when_run([](const run_result& r) { return with_commas(r.fibers); }));
  row("threads", when_run([](const run_result& r) { return std::to_string(r.threads); }));
  row("would overflow", [](const column& c) { return with_commas(c.would_overflow); });
  row("not run: limit", [](const column& c) {
    return c.not_run == 0 ? std::string("0") : with_commas(c.not_run) + " (" + c.not_run_why + ")";
  });
  row("peak resident", when_run([&](const run_result& r) { return bytes(r.resident_peak); }));
  row("  VmRSS", when_run([&](const run_result& r) { return bytes(r.rss_peak); }));
  row("  VmPTE", when_run([&](const run_result& r) { return bytes(r.pte_peak); }));
  row("  per fiber", when_run([&](const run_result& r) {
        return human_bytes(static_cast<double>(r.resident_peak) / static_cast<double>(std::max<std::uint64_t>(1, r.fibers)));
      }));
  row("VMAs (process)", when_run([](const run_result& r) { return with_commas(r.mappings_peak); }));
  row("switches/s", when_run([](const run_result& r) {
        return with_commas(static_cast<std::uint64_t>(r.switches_per_second));
      }));
  row("growth events", when_run([](const run_result& r) {
        return r.growth_events ? with_commas(*r.growth_events) : std::string("-");
      }));
  row("overflows caught", when_run([](const run_result& r) {
        return r.overflows_caught ? with_commas(*r.overflows_caught) : std::string("-");
      }));
  row("time", when_run([](const run_result& r) {
        char text[32];
        std::snprintf(text, sizeof text, "%.2f s", r.seconds);
        return std::string(text);
      }));
  for (const column& c : columns) {
    if (!c.note.empty()) std::printf("%s: %s\n", c.title.c_str(), c.note.c_str());
  }
}


run_plan plan_of(const std::vector<std::uint32_t>& depths, std::vector<std::uint32_t> order,
                 const demo_request& request) {
  run_plan plan;
  plan.depths = &depths;
  plan.order = std::move(order);
  plan.yields = request.yields;
  plan.threads = request.threads;
  return plan;
}

// One thread per core unless asked; the sjlj backend enters a fresh stack only
// from a stack above it, which another thread's stack is not: one thread there.
// Under ThreadSanitizer one thread too: fibers made on several threads at once
// trip a race in the library (reported, see docs/benchmarks.md, "The `cospace demo`").
unsigned threads_for(unsigned asked) {
  if (std::string_view(cospace_context_backend()) == "sjlj" || thread_sanitizer) return 1;
  if (asked != 0) return asked;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
}

// The fixed 64 KiB alternative: the fibers that fit, as many as the mapping
// limit allows at once (two mappings per stack: the stack and its guard page).
column fixed_alternative(const std::vector<std::uint32_t>& depths, const stack_overhead& overhead,
                         const demo_request& request) {
  column c{"cospace fixed 64 KiB", "64 KiB + guard page", std::nullopt, 0, 0, "", ""};
  std::vector<std::uint32_t> fit = fitting(depths, overhead);
  c.would_overflow = depths.size() - fit.size();
  const machine_limits m = read_machine_limits();
  const std::uint64_t in_use = count_mappings() + mapping_headroom;
  const std::uint64_t cap = m.max_map_count > in_use ? (m.max_map_count - in_use) / 2 : 0;
  if (fit.size() > cap) {
    c.not_run = fit.size() - cap;
    c.not_run_why = "VMAs";
    fit.resize(cap);
  }
  if (auto refusal = check_memory(packed_estimate(depths, fit, overhead, 512), m, fit.size())) {
    c.note = "not run: " + *refusal;
    return c;
  }
  if (!fit.empty()) c.result = run_cospace(stack_kind::fixed, plan_of(depths, std::move(fit), request));
  return c;
}

column boost_alternative(const std::vector<std::uint32_t>& depths, const stack_overhead& overhead,
                         const demo_request& request) {
  column c{"Boost.Context 64 KiB", "fixedsize_stack, no guard", std::nullopt, 0, 0, "", ""};
  std::vector<std::uint32_t> fit = fitting(depths, overhead);
  c.would_overflow = depths.size() - fit.size();
  if (!have_boost_context()) {
    c.note = "not run: the tool was built without Boost.Context (Debian: libboost-context-dev)";
    return c;
  }
  if (sanitized) {
    c.note = "not run: this build is sanitized and Boost.Context's fibers have no sanitizer hooks here";
    return c;
  }
  // malloc'd stacks: the page the chunk header sits on is touched too.
  if (auto refusal = check_memory(packed_estimate(depths, fit, overhead, page_bytes() + 128), read_machine_limits(),
                                  fit.size())) {
    c.note = "not run: " + *refusal;
    return c;
  }
  if (!fit.empty()) c.result = run_boost_context(fixed_stack_bytes, plan_of(depths, std::move(fit), request));
  return c;
}

}  // namespace

int run_demo(const demo_request& asked) {
  demo_request request = asked;
  request.threads = threads_for(asked.threads);
  const depth_mix mix = parse_depth_mix(request.depth_mix);
  if (thread_sanitizer && request.fibers > thread_sanitizer_fibers) {
    std::fprintf(stderr, "cospace: this build runs under ThreadSanitizer, which counts fibers as threads and holds "
                 "at most 8,128: use --fibers %llu or fewer\n", static_cast<unsigned long long>(thread_sanitizer_fibers));
    return 1;
  }
  // Every fiber touches at least a page: refuse the impossible before drawing.
  if (auto refusal = check_memory(request.fibers * page_bytes(), read_machine_limits(), request.fibers)) {
    std::fprintf(stderr, "cospace: %s\n", refusal->c_str());
    return 1;
  }
  const std::vector<std::uint32_t> depths = draw_depths(mix, request.fibers, request.seed);
  const std::uint64_t n = depths.size();
  const machine_limits limits = read_machine_limits();

  std::printf("cospace demo: %s fibers, no stack size anywhere, %u yields each at depth, %u thread%s\n",
              with_commas(n).c_str(), request.yields, request.threads, request.threads == 1 ? "" : "s");
  std::printf("  depth mix  %s%s%s (seed %llu)\n", mix.name.c_str(), mix.name == mix.spec ? "" : " = ",
              mix.name == mix.spec ? "" : mix.spec.c_str(), static_cast<unsigned long long>(request.seed));
  std::printf("  depths     %s\n", describe_depths(depths).c_str());
  std::printf("  machine    %s\n", describe_limits(limits).c_str());

  // What a fiber needs from the top of a stack, measured on a fixed stack of
  // the alternatives' size (the same record and entry as every cospace kind).
  const stack_overhead overhead = measure_overhead(stack_kind::fixed);
  const space_stats space = space::global().stats();

  std::vector<std::uint32_t> order;
  std::uint64_t estimate = 0;
  std::optional<std::string> refusal;
  std::uint64_t sequential = 0;
  std::uint64_t would_overflow = 0;
  std::string stack_text;
  switch (request.stack) {
    case stack_kind::region: {
      region_order r = order_for_regions(depths, overhead, space.reserved_bytes);
      refusal = r.refusal;
      order = std::move(r.order);
      sequential = r.deep_first;
      if (!refusal) {
        estimate = region_estimate(depths, order, overhead, space.reserved_bytes);
        refusal = check_memory(estimate, limits, n);
      }
      if (!refusal && space.mode != protection_mode::guard_install) {
        refusal = check_mappings(2, n, limits, "two per stack in the space's mprotect mode");
      }
      stack_text = std::string("region: ") + human_bytes(static_cast<double>(space.reserved_bytes)) +
                   " reserved, guards by " + to_string(space.mode);
      if (r.deep_first != 0) {
        std::printf("  order      %s fibers deeper than %s start first: %s regions in %s leave a late one "
                    "about that much to grow into (docs/design.md, placement)\n",
                    with_commas(r.deep_first).c_str(), human_bytes(static_cast<double>(r.sure_room)).c_str(),
                    with_commas(n).c_str(), human_bytes(static_cast<double>(space.reserved_bytes)).c_str());
      }
      break;
    }
    case stack_kind::fixed: {
      order = fitting(depths, overhead);
      would_overflow = n - order.size();
      estimate = packed_estimate(depths, order, overhead, 512);
      refusal = check_mappings(2, order.size(), limits, "a stack and its guard page each");
      if (!refusal) refusal = check_memory(estimate, limits, order.size());
      stack_text = "fixed 64 KiB + guard page";
      break;
    }
    case stack_kind::sliced: {
      try {
        fiber probe([] {}, {.stack = stack_kind::sliced});
        probe.resume();
      } catch (const fiber_error& e) {
        std::fprintf(stderr, "cospace: --stack sliced: %s\n", e.what());
        return 1;
      }
      order.resize(n);
      for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
      estimate = touched_bytes(depths, order, overhead) + n * KiB;
      refusal = check_memory(estimate, limits, n);
      stack_text = "sliced (shared stacks)";
      break;
    }
  }
  std::printf("  stacks     %s; this run needs about %s resident\n\n", stack_text.c_str(),
              human_bytes(static_cast<double>(estimate)).c_str());
  if (refusal) {
    std::fprintf(stderr, "cospace: %s\n", refusal->c_str());
    return 1;
  }

  std::vector<column> columns;
  column main{std::string("cospace ") + to_string(request.stack),
              request.stack == stack_kind::region ? "grows on demand" : stack_text,
              std::nullopt, would_overflow, 0, "", ""};
  std::printf("%s:\n", main.title.c_str());
  run_plan plan = plan_of(depths, std::move(order), request);
  plan.sequential = sequential;
  main.result = run_cospace(request.stack, plan);
  columns.push_back(std::move(main));

  if (request.alternatives && request.stack == stack_kind::region) {
    std::printf("cospace fixed 64 KiB stacks, the fibers that fit:\n");
    columns.push_back(fixed_alternative(depths, overhead, request));
    if (have_boost_context() && !sanitized) std::printf("Boost.Context, the fibers that fit:\n");
    columns.push_back(boost_alternative(depths, overhead, request));
  }
  std::printf("\n");
  print_table(columns);

  std::uint64_t deepest = 0;
  for (std::uint32_t d : depths) deepest = std::max(deepest, need_of(d, overhead));
  const std::uint64_t sized = n * (round_up(deepest, page_bytes()) + page_bytes());
  std::printf("\nsizing every stack for the deepest fiber (%s + a guard page) takes %s of address space for %s "
              "fibers;\ncospace reserved %s for all of them and touched only what each one used.\n",
              human_bytes(static_cast<double>(round_up(deepest, page_bytes()))).c_str(),
              human_bytes(static_cast<double>(sized)).c_str(), with_commas(n).c_str(),
              human_bytes(static_cast<double>(space.reserved_bytes)).c_str());
  if (request.backends) {
    std::printf("\n");
    print_switch_backends(5'000'000);
  }
  return 0;
}

}  // namespace cospace::tool
