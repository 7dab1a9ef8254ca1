// `cospace bench`: the suite, its alternatives, the ratios, as tables or JSON.
#include "bench_command.hpp"

#include <unistd.h>

#include <cospace/context.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "alternatives.hpp"
#include "child_process.hpp"
#include "measure.hpp"
#include "memory_suite.hpp"
#include "timing_suite.hpp"

namespace cospace::tool {
namespace {

using namespace bench;
using json = nlohmann::ordered_json;

// ---- rows of the alternatives that measure themselves ------------------------------

struct reported_figure {
  const char* section;
  const char* name;
  const char* description;
  const char* field;  // what the program prints
};

void add_reported_rows(std::vector<timing_section>& sections, const alternative_status& status,
                       const std::optional<process_result>& result, const std::vector<reported_figure>& figures) {
  const fields f = result ? parse_fields(result->out) : fields{};
  for (const reported_figure& r : figures) {
    timing_row row{r.name, r.description, std::nullopt, {}, std::nullopt};
    if (!status.available) row.reason = "not available: " + status.reason;
    else if (!result->ok()) row.reason = "failed: " + result->failure();
    else if (!(row.ns = number_field(f, r.field))) row.reason = std::string("failed: no ") + r.field + " in its output";
    section(sections, r.section).rows.push_back(std::move(row));
  }
}

// ---- ratios ------------------------------------------------------------------------

struct ratio {
  std::string section;
  std::string ours, theirs;
  std::optional<double> value;
  std::optional<std::size_t> fibers;  // memory ratios: the count both were measured at
  std::string reason;
};

ratio timing_ratio(const std::vector<timing_section>& sections, const std::string& key, const std::string& ours,
                   const std::string& theirs) {
  ratio r{key, ours, theirs, std::nullopt, std::nullopt, {}};
  for (const timing_section& s : sections) {
    if (s.key != key) continue;
    const timing_row* a = s.find(ours);
    const timing_row* b = s.find(theirs);
    if (a != nullptr && b != nullptr && a->ns && b->ns && *b->ns > 0) r.value = *a->ns / *b->ns;
    else r.reason = "not measured in this run";
  }
  return r;
}

// Memory per fiber, at the largest count at which both made every fiber asked for.
ratio memory_ratio(const std::vector<memory_row>& rows, const std::string& ours, const std::string& theirs) {
  ratio r{"memory", ours, theirs, std::nullopt, std::nullopt, "not measured at a common count in this run"};
  const auto complete = [](const memory_row& m) {
    return m.measured() && m.created && *m.created == static_cast<double>(m.fibers);
  };
  for (const memory_row& a : rows) {
    if (a.kind != ours || !complete(a)) continue;
    for (const memory_row& b : rows) {
      if (b.kind != theirs || b.fibers != a.fibers || !complete(b) || *b.kib_per_fiber <= 0) continue;
      if (r.fibers && *r.fibers > a.fibers) continue;
      r.value = *a.kib_per_fiber / *b.kib_per_fiber;
      r.fibers = a.fibers;
      r.reason.clear();
    }
  }
  return r;
}

std::vector<ratio> all_ratios(const std::vector<timing_section>& s, const std::vector<memory_row>& memory) {
  std::vector<ratio> out = {
      timing_ratio(s, "switch", "cospace_asm", "boost_jump_fcontext"),
      timing_ratio(s, "resume_yield", "cospace_region", "boost_fiber"),
      timing_ratio(s, "resume_yield", "cospace_region", "go_channel"),
      timing_ratio(s, "resume_yield", "cospace_region", "go_gosched"),
      timing_ratio(s, "resume_yield", "cospace_region", "greenlet"),
      timing_ratio(s, "resume_yield", "cospace_sliced", "greenlet"),
      timing_ratio(s, "create_run_destroy", "cospace_region", "boost_fixedsize"),
      timing_ratio(s, "create_run_destroy", "cospace_region", "boost_pooled"),
      timing_ratio(s, "create_run_destroy", "cospace_region", "go_goroutine"),
      timing_ratio(s, "create_run_destroy", "cospace_region", "greenlet"),
  };
  for (const char* ours : {"cospace_region", "cospace_sliced"})
    for (const char* theirs : {"boost_fixedsize", "go_goroutine", "greenlet"})
      out.push_back(memory_ratio(memory, ours, theirs));
  return out;
}

// ---- text --------------------------------------------------------------------------

void print_section(const timing_section& s) {
  std::printf("\n%s\n", s.title.c_str());
  for (const timing_row& r : s.rows) {
    if (r.ns) std::printf("  %-28s %10.2f  %s\n", r.name.c_str(), *r.ns, r.description.c_str());
    else std::printf("  %-28s %10s  %s\n", r.name.c_str(), "-", r.reason.c_str());
  }
  std::fflush(stdout);
}

void print_memory_heading() {
  std::printf("\nMemory per suspended fiber: (delta VmRSS + delta VmPTE) / fibers made, each suspended ~%zu bytes "
              "deep;\na fresh process per row\n",
              fiber_depth_bytes);
  std::printf("  %-18s %9s %9s %10s %8s %8s %8s %8s\n", "kind", "fibers", "made", "KiB/fiber", "RSS/f", "PTE/f",
              "VMAs", "seconds");
  std::fflush(stdout);
}

void print_memory_row(const memory_row& r) {
  if (!r.measured()) {
    std::printf("  %-18s %9zu  %s\n", r.kind.c_str(), r.fibers, r.reason.c_str());
  } else {
    std::printf("  %-18s %9zu %9.0f %10.2f %8.2f %8.2f %8.0f %8.2f%s%s\n", r.kind.c_str(), r.fibers, *r.created,
                *r.kib_per_fiber, *r.rss_kib_per_fiber, *r.pte_kib_per_fiber, r.vmas.value_or(-1),
                r.seconds.value_or(-1), r.stop.empty() ? "" : "  stopped: ", r.stop.c_str());
  }
  std::fflush(stdout);
}

void print_ratios(const std::vector<ratio>& ratios) {
  std::printf("\nRatios measured in this run (ours / theirs; below 1: cospace is faster or smaller)\n");
  for (const ratio& r : ratios) {
    std::string what = r.section + ": " + r.ours + " / " + r.theirs;
    if (r.fibers) what += " at " + std::to_string(*r.fibers) + " fibers";
    if (r.value) std::printf("  %-62s %8.3f\n", what.c_str(), *r.value);
    else std::printf("  %-62s %8s  %s\n", what.c_str(), "-", r.reason.c_str());
  }
}

// ---- JSON --------------------------------------------------------------------------

json alternative_json(const alternative_status& s) {
  json j = {{"available", s.available}};
  if (s.available) {
    j["version"] = s.version;
    j["program"] = s.program;
  } else {
    j["reason"] = s.reason;
  }
  return j;
}

json section_json(const timing_section& s) {
  json rows = json::array();
  for (const timing_row& r : s.rows) {
    json j = {{"name", r.name}, {"description", r.description}, {"available", r.ns.has_value()}};
    if (r.depth_bytes) j["depth_bytes"] = *r.depth_bytes;
    if (r.ns) j[s.unit_field] = *r.ns;
    else j["reason"] = r.reason;
    rows.push_back(std::move(j));
  }
  return rows;
}

json memory_json(const memory_row& r) {
  json j = {{"kind", r.kind}, {"fibers", r.fibers}, {"available", r.measured()}};
  if (!r.measured()) {
    j["reason"] = r.reason;
    return j;
  }
  j["fibers_made"] = static_cast<long long>(*r.created);
  j["kib_per_fiber"] = *r.kib_per_fiber;
  j["rss_kib_per_fiber"] = *r.rss_kib_per_fiber;
  j["pte_kib_per_fiber"] = *r.pte_kib_per_fiber;
  j["resident_mib"] = *r.resident_mib;
  if (r.vmas) j["vmas"] = static_cast<long long>(*r.vmas);
  if (r.vmas_added) j["vmas_added"] = static_cast<long long>(*r.vmas_added);
  if (r.seconds) j["create_seconds"] = *r.seconds;
  if (!r.stop.empty()) j["stopped"] = r.stop;
  return j;
}

json ratio_json(const ratio& r) {
  json j = {{"section", r.section}, {"ours", r.ours}, {"theirs", r.theirs}};
  if (r.fibers) j["fibers"] = *r.fibers;
  if (r.value) j["ratio"] = *r.value;
  else j["reason"] = r.reason;
  return j;
}

// A line on stderr while the suite runs, when someone is watching.
void progress(bool show, const char* what) {
  if (!show) return;
  std::fprintf(stderr, "cospace bench: %s\n", what);
}

}  // namespace

int run_bench(const bench_request& request) {
  if (const char* job = std::getenv(child_job_variable); job != nullptr) return run_child_job(job);
  const auto start = std::chrono::steady_clock::now();
  const machine_info machine = describe_machine();
  const timing_plan plan = plan_for(request.quick);
  const bool text = !request.json;
  const bool show_progress = request.json && isatty(STDERR_FILENO) != 0;
  const std::string command = std::string("cospace bench") + (request.quick ? " --quick" : "") +
                              (request.json ? " --json" : "");
  try {
    if (text) {
      std::printf("%s: %s\n%s\n", command.c_str(), machine.date_utc.c_str(), machine.one_line().c_str());
      std::printf("timing: std::chrono::steady_clock, median of %d batches of ~%g ms after a calibrating warm-up "
                  "(one batch of each operation in turn); cospace context backend of the library: %s\n",
                  plan.repetitions, plan.batch_seconds * 1000, cospace_context_backend());
      std::fflush(stdout);
    }
    progress(show_progress, "looking for Go and greenlet");
    const go_alternative go;
    const greenlet_alternative greenlet;
    const alternative_status boost{boost_available(), boost_description(), "linked into cospace",
                                   boost_available() ? std::string() : boost_description()};
    if (text) {
      std::printf("alternatives: %s; Go: %s; greenlet: %s\n", boost_description().c_str(),
                  go.status().available ? (go.status().version + " (" + go.status().program + ")").c_str()
                                        : go.status().reason.c_str(),
                  greenlet.status().available
                      ? (greenlet.status().version + " (" + greenlet.status().program + ")").c_str()
                      : greenlet.status().reason.c_str());
    }

    progress(show_progress, "timing");
    std::vector<timing_section> sections = run_timing_suite(plan, request.quick);
    std::optional<process_result> go_timing, greenlet_timing;
    if (go.status().available) go_timing = go.timing(plan);
    if (greenlet.status().available) greenlet_timing = greenlet.timing(plan);
    add_reported_rows(sections, go.status(), go_timing,
                      {{"resume_yield", "go_channel", "goroutine ping-pong on unbuffered channels, GOMAXPROCS=1",
                        "channel_ns_per_round_trip"},
                       {"resume_yield", "go_gosched", "two goroutines calling runtime.Gosched(), GOMAXPROCS=1",
                        "gosched_ns_per_round_trip"},
                       {"create_run_destroy", "go_goroutine", "go f() + wait for it to signal its end",
                        "spawn_ns_per_goroutine"}});
    add_reported_rows(sections, greenlet.status(), greenlet_timing,
                      {{"resume_yield", "greenlet", "greenlet.switch() into a greenlet that switches back (Python loop)",
                        "switch_ns_per_round_trip"},
                       {"create_run_destroy", "greenlet", "greenlet(f).switch() of an empty f (Python loop)",
                        "spawn_ns_per_greenlet"}});
    if (text)
      for (const timing_section& s : sections) print_section(s);

    progress(show_progress, "memory");
    const std::vector<std::size_t> counts =
        request.quick ? std::vector<std::size_t>{1'000, 10'000}
                      : std::vector<std::size_t>{1'000, 10'000, 100'000, 1'000'000};
    if (text) print_memory_heading();
    std::vector<memory_row> memory;
    for (const memory_kind& kind : memory_kinds(go, greenlet)) {
      for (memory_row& r : measure_memory_series(kind, counts, request.quick ? 60 : 600, [&](const memory_row& row) {
             if (text) print_memory_row(row);
           }))
        memory.push_back(std::move(r));
    }
    const std::vector<ratio> ratios = all_ratios(sections, memory);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (text) {
      print_ratios(ratios);
      std::printf("\n%.1f seconds\n", elapsed);
      return std::fflush(stdout) == 0 ? 0 : 1;
    }

    json doc;
    doc["command"] = command;
    doc["date_utc"] = machine.date_utc;
    doc["machine"] = {{"cpu", machine.cpu},       {"vcpus", machine.vcpus}, {"memory_gib", machine.memory_gib},
                      {"kernel", machine.kernel}, {"arch", machine.arch}};
    doc["quick"] = request.quick;
    doc["sanitizer_build"] = COSPACE_TOOL_SANITIZED != 0;
    doc["context_backend"] = cospace_context_backend();
    doc["timing_method"] = {{"clock", "std::chrono::steady_clock"},
                            {"statistic", "median over repetitions after a calibrating warm-up; in-process operations interleaved"},
                            {"repetitions", plan.repetitions},
                            {"batch_seconds", plan.batch_seconds}};
    doc["alternatives"] = {{"boost_context", alternative_json(boost)},
                           {"go", alternative_json(go.status())},
                           {"greenlet", alternative_json(greenlet.status())}};
    for (const timing_section& s : sections) doc[s.key] = section_json(s);
    json rows = json::array();
    for (const memory_row& r : memory) rows.push_back(memory_json(r));
    doc["memory"] = {{"depth_bytes", fiber_depth_bytes},
                     {"method", "(delta VmRSS + delta VmPTE) / fibers made, a fresh process per row"},
                     {"rows", rows}};
    json ratio_rows = json::array();
    for (const ratio& r : ratios) ratio_rows.push_back(ratio_json(r));
    doc["ratios"] = ratio_rows;
    doc["elapsed_seconds"] = elapsed;
    std::printf("%s\n", doc.dump(2).c_str());
    return std::fflush(stdout) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cospace bench: %s\n", e.what());
    return 1;
  }
}

}  // namespace cospace::tool
