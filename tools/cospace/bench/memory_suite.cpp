#include "memory_suite.hpp"

#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <new>
#include <sstream>
#include <utility>

#include "measure.hpp"

#if COSPACE_TOOL_USE_BOOST
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#endif

namespace cospace::tool::bench {
namespace {

// What a child prints.
class report {
 public:
  void add(const std::string& key, const std::string& value) {
    std::string clean = value;
    for (char& c : clean)
      if (c == '\n' || c == '\r') c = ' ';
    text_ += key + "=" + clean + "\n";
  }
  void add(const std::string& key, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.6f", value);
    text_ += key + "=" + number + "\n";
  }
  void add(const std::string& when, const memory_snapshot& s) {
    add("rss_kib_" + when, static_cast<double>(s.rss_kib));
    add("pte_kib_" + when, static_cast<double>(s.pte_kib));
    add("vmas_" + when, static_cast<double>(s.vmas));
  }
  int print() const {
    std::fputs(text_.c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }

 private:
  std::string text_;
};

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

// Makes fibers with make(i), which leaves fiber i suspended, until there are
// n or one cannot be made; records the figures around that. Returns how many
// were made.
template <class Make>
std::size_t suspend_many(report& out, std::size_t n, Make&& make) {
  const memory_snapshot before = read_memory();
  const auto start = clock::now();
  std::size_t created = 0;
  try {
    for (; created < n; ++created) make(created);
  } catch (const std::bad_alloc&) {
    out.add("stop", "std::bad_alloc: out of memory");
  } catch (const std::exception& e) {
    out.add("stop", e.what());
  }
  out.add("seconds", seconds_since(start));
  out.add("created", static_cast<double>(created));
  out.add("before", before);
  out.add("suspended", read_memory());
  return created;
}

// ---- cospace -------------------------------------------------------------------

void yield_once(void*) { this_fiber::yield(); }

int child_cospace(report& out, stack_kind kind, std::size_t n, std::size_t depth) {
  fiber_options options;
  options.stack = kind;
  const auto body = [depth] { run_at_depth(depth, &yield_once, nullptr); };
  std::vector<fiber> fibers(n);  // allocated and touched before the baseline
  try {
    fiber warm(body, options);  // the space, the fault handler and the pools exist before the baseline
    warm.resume();
    warm.resume();
  } catch (const fiber_error& e) {
    out.add("unavailable", e.what());
    return out.print();
  }
  if (kind == stack_kind::region) space::global().trim();
  const std::size_t created = suspend_many(out, n, [&](std::size_t i) {
    fibers[i] = fiber(body, options);
    fibers[i].resume();
  });
  for (std::size_t i = 0; i < created; ++i) fibers[i].resume();  // to their ends
  fibers.clear();
  return out.print();
}

// ---- Boost.Context ---------------------------------------------------------------

#if COSPACE_TOOL_USE_BOOST
namespace bc = boost::context;

void boost_suspend(void* caller) {
  auto& c = *static_cast<bc::fiber*>(caller);
  c = std::move(c).resume();
}

int child_boost(report& out, std::size_t n, std::size_t depth) {
  const auto body = [depth](bc::fiber&& caller) {
    run_at_depth(depth, &boost_suspend, &caller);
    return std::move(caller);
  };
  std::vector<bc::fiber> fibers(n);
  {
    bc::fiber warm(std::allocator_arg, bc::fixedsize_stack{}, body);
    warm = std::move(warm).resume();
    warm = std::move(warm).resume();
  }
  const std::size_t created = suspend_many(out, n, [&](std::size_t i) {
    fibers[i] = bc::fiber(std::allocator_arg, bc::fixedsize_stack{}, body);
    fibers[i] = std::move(fibers[i]).resume();
  });
  for (std::size_t i = 0; i < created; ++i) fibers[i] = std::move(fibers[i]).resume();
  fibers.clear();
  return out.print();
}
#endif

memory_kind self_kind(std::string key, std::string label) {
  memory_kind k{key, std::move(label), {}, {}};
  k.run = [key](std::size_t count, std::size_t depth, double timeout) {
    return run_self("memory " + key + " " + std::to_string(count) + " " + std::to_string(depth), timeout);
  };
  return k;
}

template <class Alternative>
memory_kind alternative_kind(std::string key, std::string label, const Alternative& alt) {
  memory_kind k{std::move(key), std::move(label), alt.status().available ? "" : alt.status().reason, {}};
  k.run = [&alt](std::size_t count, std::size_t depth, double timeout) { return alt.memory(count, depth, timeout); };
  return k;
}

std::string gib(double kib) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", kib / (1024.0 * 1024.0));
  return text;
}

memory_row row_from(const std::string& kind, std::size_t count, const process_result& r) {
  memory_row row;
  row.kind = kind;
  row.fibers = count;
  const fields f = parse_fields(r.out);
  if (f.count("unavailable") != 0) {
    row.reason = "not available: " + text_field(f, "unavailable");
    return row;
  }
  const auto created = number_field(f, "created");
  const auto rss0 = number_field(f, "rss_kib_before"), rss1 = number_field(f, "rss_kib_suspended");
  const auto pte0 = number_field(f, "pte_kib_before"), pte1 = number_field(f, "pte_kib_suspended");
  if (!r.ok() || !created || !rss0 || !rss1 || !pte0 || !pte1) {
    row.reason = "failed: " + (r.ok() ? std::string("the child printed no figures") : r.failure());
    return row;
  }
  row.created = created;
  row.stop = text_field(f, "stop");
  row.seconds = number_field(f, "seconds");
  row.vmas = number_field(f, "vmas_suspended");
  if (const auto v0 = number_field(f, "vmas_before"); v0 && row.vmas) row.vmas_added = *row.vmas - *v0;
  if (*created <= 0) {
    row.reason = "no fiber could be made" + (row.stop.empty() ? std::string() : ": " + row.stop);
    return row;
  }
  const double rss = *rss1 - *rss0, pte = *pte1 - *pte0;
  row.rss_kib_per_fiber = rss / *created;
  row.pte_kib_per_fiber = pte / *created;
  row.kib_per_fiber = (rss + pte) / *created;
  row.resident_mib = (rss + pte) / 1024;
  return row;
}

}  // namespace

std::vector<memory_kind> memory_kinds(const go_alternative& go, const greenlet_alternative& greenlet) {
  std::vector<memory_kind> kinds = {
      self_kind("cospace_region", "cospace region stacks (default)"),
      self_kind("cospace_fixed", "cospace fixed 64 KiB stacks"),
      self_kind("cospace_sliced", "cospace sliced stacks"),
  };
  memory_kind boost = self_kind("boost_fixedsize", "Boost.Context fiber, fixedsize_stack (128 KiB)");
  if (!boost_available()) boost.unavailable = boost_description();
  kinds.push_back(std::move(boost));
  kinds.push_back(alternative_kind("go_goroutine", "Go goroutines", go));
  kinds.push_back(alternative_kind("greenlet", "greenlet (Python)", greenlet));
  return kinds;
}

std::vector<memory_row> measure_memory_series(const memory_kind& kind, const std::vector<std::size_t>& counts,
                                              double timeout_seconds,
                                              const std::function<void(const memory_row&)>& on_row) {
  std::vector<memory_row> rows;
  std::string skip;  // once set, every larger count is skipped for this reason
  double kib_estimate = 16;  // per fiber, until a count has been measured
  for (const std::size_t count : counts) {
    memory_row row;
    row.kind = kind.key;
    row.fibers = count;
    const long available = available_kib();
    const double needed = kib_estimate * 1.3 * static_cast<double>(count);
    if (!kind.unavailable.empty()) {
      row.reason = "not available: " + kind.unavailable;
    } else if (!skip.empty()) {
      row.reason = skip;
    } else if (available > 0 && needed > 0.75 * static_cast<double>(available)) {
      row.reason = "skipped: would need about " + gib(needed) + ", " + gib(static_cast<double>(available)) +
                   " available";
    } else {
      row = row_from(kind.key, count, kind.run(count, fiber_depth_bytes, timeout_seconds));
      if (row.measured()) kib_estimate = *row.kib_per_fiber > 1 ? *row.kib_per_fiber : 1;
      if (!row.stop.empty() || row.reason.rfind("not available", 0) == 0 || row.reason.rfind("failed", 0) == 0) {
        std::ostringstream why;
        if (!row.stop.empty()) why << "skipped: the run of " << count << " stopped at " << *row.created;
        else why << "skipped: the run of " << count << " failed";
        skip = row.reason.rfind("not available", 0) == 0 ? row.reason : why.str();
      }
    }
    if (on_row) on_row(row);
    rows.push_back(std::move(row));
  }
  return rows;
}

int run_child_job(const std::string& job) {
  std::istringstream words(job);
  std::string verb, kind;
  std::size_t count = 0, depth = 0;
  if (!(words >> verb >> kind >> count >> depth) || verb != "memory" || count == 0) {
    std::fprintf(stderr, "cospace: bad benchmark job '%s'\n", job.c_str());
    return 2;
  }
  report out;
  if (kind == "cospace_region") return child_cospace(out, stack_kind::region, count, depth);
  if (kind == "cospace_fixed") return child_cospace(out, stack_kind::fixed, count, depth);
  if (kind == "cospace_sliced") return child_cospace(out, stack_kind::sliced, count, depth);
#if COSPACE_TOOL_USE_BOOST
  if (kind == "boost_fixedsize") return child_boost(out, count, depth);
#endif
  out.add("unavailable", "no such kind in this build: " + kind);
  return out.print();
}

}  // namespace cospace::tool::bench
