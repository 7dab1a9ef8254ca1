// Resident memory per suspended fiber, VMAs in use, and what a deep recursion
// does to each kind of stack: cospace region fibers next to Boost.Context's
// three stack allocators (when CMake found Boost.Context).
//
//   cospace_bench_memory [--count N]... [--kinds a,b,...] [--depth BYTES]
//                        [--deep-bytes BYTES] [--no-deep] [--json FILE]
//
// Memory: for each kind and count, a fresh process (this program re-executed
// with --child) makes N fibers whose bodies descend about --depth bytes (1 KiB)
// of stack and yield there, so that all N are suspended at once with that much
// stack in use. It reads VmRSS and VmPTE from /proc/self/status and counts the
// lines of /proc/self/maps before making them (after one warm-up fiber, and
// with the vector of N handles already allocated and touched, so neither is
// counted) and again while all are suspended:
//
//   per fiber = (delta VmRSS + delta VmPTE) / N
//
// then resumes each to its end, destroys them, and reads them once more
// ("after end": what stayed resident). Every kind and count runs in its own
// process so that one count's pages, page tables and allocator state do not
// pollute the next.
//
// Kinds:
//   cospace            cospace::fiber, default options: a region of the global space
//   cospace_mprotect   the same in a space forced to protection_mode::mprotect
//                      (guards by mprotect: two VMAs per fiber, what older kernels get)
//   cospace_nocolour   the same in a space with colour_stacks = false (every stack
//                      top at its region's top: what colouring costs in pages)
//   boost_fixedsize    boost::context::fiber on fixedsize_stack (malloc, no guard)
//   boost_pooled       ... on pooled_fixedsize_stack (boost::pool of malloc'd blocks, no guard)
//   boost_protected    ... on protected_fixedsize_stack (mmap + one PROT_NONE guard page):
//                      each stack's guard is probed (a write() from the guard page
//                      to a pipe must fail with EFAULT), so the run says how many
//                      stacks really got a guard when vm.max_map_count runs out.
//   All Boost stacks have Boost's default size (stack_traits::default_size()).
//
// Deep recursion (--deep-bytes, default 1 MiB): one fiber of each kind (and
// cospace's own fixed-size stacks, 64 KiB) descends that far in a child
// process; the table says "ok", the signal that killed it, or "ok, but wrote
// N KiB below its stack" when it survived by writing outside its stack.
//
// Targets (issue "Recursive process spaces"): at 1,000,000 cospace fibers,
// at most 8.5 KiB per fiber and at most 100 VMAs; the summary says whether
// each is met.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include "fiber/fiber_control.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/context/stack_traits.hpp>
#include <boost/version.hpp>
#endif

namespace {

// ---- the stack a body uses ---------------------------------------------------

// Descends until `stop_below` with frames of a little over 200 bytes (less than
// a page, so a guard page is always hit, never stepped over), then calls
// `bottom` from the deepest frame.
struct descent {
  std::uintptr_t stop_below = 0;
  void (*bottom)(void*) = nullptr;
  void* arg = nullptr;
  std::uintptr_t deepest = 0;
};

[[gnu::noinline]] void descend(descent& d) {
  char frame[200];
  std::memset(frame, 1, sizeof frame);
  asm volatile("" : : "r"(frame) : "memory");
  const auto here = reinterpret_cast<std::uintptr_t>(frame);
  if (here > d.stop_below) {
    descend(d);
  } else {
    d.deepest = here;
    if (d.bottom != nullptr) d.bottom(d.arg);
  }
  asm volatile("" : : "r"(frame) : "memory");  // no tail call: the frame stays
}

// Runs `bottom` about `bytes` below the caller's frame; returns the deepest address.
[[gnu::noinline]] std::uintptr_t run_descent(std::size_t bytes, void (*bottom)(void*), void* arg) {
  descent d;
  const auto start = reinterpret_cast<std::uintptr_t>(&d);
  d.stop_below = start - bytes;
  d.bottom = bottom;
  d.arg = arg;
  descend(d);
  asm volatile("" : : "r"(&d) : "memory");
  return d.deepest;
}

std::size_t g_depth = 1024;            // bytes each body descends before yielding
std::uintptr_t g_first_top = 0;        // the first fiber's stack top, for the report
std::uintptr_t g_first_deepest = 0;    // ... and its deepest frame at the yield

// ---- /proc ------------------------------------------------------------------

struct snapshot {
  long rss_kib = 0;
  long pte_kib = 0;
  long vmas = 0;
};

long status_field(const char* name) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  const std::size_t n = std::strlen(name);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, name, n) == 0 && line[n] == ':') {
      value = std::strtol(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

long count_vmas() {
  // read(2) in a fixed buffer: no allocation, so counting does not add a VMA.
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  static char buffer[1 << 16];
  long lines = 0;
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got <= 0) break;
    for (ssize_t i = 0; i < got; ++i) lines += buffer[i] == '\n';
  }
  close(fd);
  return lines;
}

// Bytes of writable memory mapped contiguously just below `address` (at most
// `limit`): what a stack overflow without a guard would overwrite before it
// faulted.
std::size_t writable_below(std::uintptr_t address, std::size_t limit) {
  struct mapping {
    std::uintptr_t lo, hi;
    bool writable;
  };
  std::vector<mapping> maps;
  std::FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return 0;
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) maps.push_back({lo, hi, perms[1] == 'w'});
  }
  std::fclose(f);
  std::size_t total = 0;
  std::uintptr_t at = address;
  while (total < limit) {
    const mapping* below = nullptr;
    for (const mapping& m : maps)
      if (m.lo < at && at <= m.hi) below = &m;
    if (below == nullptr || !below->writable) break;
    total += at - below->lo;
    at = below->lo;
  }
  return total < limit ? total : limit;
}

snapshot take_snapshot() {
  snapshot s;
  s.rss_kib = status_field("VmRSS");
  s.pte_kib = status_field("VmPTE");
  s.vmas = count_vmas();
  return s;
}

// ---- the child: one kind, one count -------------------------------------------

struct child_result {
  std::vector<std::pair<std::string, std::string>> fields;
  void add(const char* key, const std::string& value) { fields.emplace_back(key, value); }
  void add(const char* key, long long value) { fields.emplace_back(key, std::to_string(value)); }
  void print() const {
    for (const auto& [k, v] : fields) std::printf("%s=%s\t", k.c_str(), v.c_str());
    std::printf("\n");
    std::fflush(stdout);
  }
};

void add_snapshot(child_result& out, const char* prefix, const snapshot& s) {
  out.add((std::string(prefix) + "_rss").c_str(), s.rss_kib);
  out.add((std::string(prefix) + "_pte").c_str(), s.pte_kib);
  out.add((std::string(prefix) + "_vmas").c_str(), s.vmas);
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\t') c = ' ';
  return text;
}

// cospace: the body descends, records where it is, yields, and ends when resumed.
void cospace_yield_at_bottom(void*) { cospace::this_fiber::yield(); }

void cospace_body() {
  const std::uintptr_t deepest = run_descent(g_depth, &cospace_yield_at_bottom, nullptr);
  if (g_first_deepest == 0) {
    g_first_deepest = deepest;
    g_first_top = cospace::detail::current_fiber()->stack.top;
  }
}

int child_cospace(child_result& out, std::size_t n, bool mprotect_mode, bool colour) {
  std::unique_ptr<cospace::space> own;
  cospace::fiber_options options;
  if (mprotect_mode || !colour) {
    cospace::space_options so;
    if (mprotect_mode) {
      so.force_mode = true;
      so.mode = cospace::protection_mode::mprotect;
    }
    so.colour_stacks = colour;
    own = std::make_unique<cospace::space>(so);
    options.space = own.get();
  }
  cospace::space& space = own ? *own : cospace::space::global();
  std::vector<cospace::fiber> fibers(n);  // allocated and touched before the baseline
  {
    cospace::fiber warm(&cospace_body, options);
    warm.resume();
    warm.resume();
  }
  space.trim();
  g_first_deepest = 0;
  const snapshot before = take_snapshot();
  std::size_t created = 0;
  std::string stop;
  try {
    for (; created < n; ++created) {
      fibers[created] = cospace::fiber(&cospace_body, options);
      fibers[created].resume();
    }
  } catch (const std::exception& e) {
    stop = one_line(e.what());
  }
  const snapshot suspended = take_snapshot();
  const cospace::space_stats stats = space.stats();
  std::size_t finished = 0;
  for (std::size_t i = 0; i < created; ++i) {
    fibers[i].resume();
    finished += fibers[i].done() ? 1 : 0;
  }
  for (auto& f : fibers) f.reset();
  const snapshot after = take_snapshot();
  out.add("created", static_cast<long long>(created));
  out.add("finished", static_cast<long long>(finished));
  add_snapshot(out, "before", before);
  add_snapshot(out, "suspended", suspended);
  add_snapshot(out, "after", after);
  out.add("mode", cospace::to_string(stats.mode));
  out.add("reserved_gib", static_cast<long long>(stats.reserved_bytes >> 30));
  out.add("live_regions", static_cast<long long>(stats.live_regions));
  out.add("stack_in_use", static_cast<long long>(g_first_top - g_first_deepest));
  if (!stop.empty()) out.add("stop", stop);
  return 0;
}

#if COSPACE_BENCH_HAVE_BOOST
namespace bc = boost::context;

// Checks that a protected stack's guard page is really PROT_NONE: the kernel
// reading it for write() must fail with EFAULT. Boost's allocate() ignores a
// failed mprotect in release builds (BOOST_ASSERT), so this is the only way to
// know.
struct guard_probe {
  int pipe_fds[2] = {-1, -1};
  long long guarded = 0, unguarded = 0;
  long long first_unguarded = -1;
  long first_unguarded_vmas = -1;
  long long index = 0;

  guard_probe() {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  }
  void check(const bc::stack_context& sc) {
    const auto* guard = static_cast<const char*>(sc.sp) - sc.size;
    const ssize_t wrote = write(pipe_fds[1], guard, 1);
    if (wrote < 0 && errno == EFAULT) {
      ++guarded;
    } else {
      char drain;
      if (wrote == 1) (void)!read(pipe_fds[0], &drain, 1);
      if (first_unguarded < 0) {
        first_unguarded = index;
        first_unguarded_vmas = count_vmas();
      }
      ++unguarded;
    }
    ++index;
  }
};

template <class Inner>
struct observed_stack {
  Inner inner;
  guard_probe* probe = nullptr;
  bc::stack_context* last = nullptr;  // where to record the stack (deep test)

  bc::stack_context allocate() {
    bc::stack_context sc = inner.allocate();
    if (probe != nullptr) probe->check(sc);
    if (last != nullptr) *last = sc;
    return sc;
  }
  void deallocate(bc::stack_context& sc) noexcept { inner.deallocate(sc); }
};

void boost_yield_at_bottom(void* caller) {
  auto* c = static_cast<bc::fiber*>(caller);
  *c = std::move(*c).resume();
}

bc::fiber boost_body(bc::fiber&& caller) {
  const std::uintptr_t deepest = run_descent(g_depth, &boost_yield_at_bottom, &caller);
  if (g_first_deepest == 0) g_first_deepest = deepest;
  return std::move(caller);
}

template <class Alloc>
int child_boost(child_result& out, std::size_t n, Alloc alloc, guard_probe* probe) {
  std::vector<bc::fiber> fibers(n);
  {
    bc::fiber warm(std::allocator_arg, alloc, &boost_body);
    warm = std::move(warm).resume();
    warm = std::move(warm).resume();
  }
  g_first_deepest = 0;
  bc::stack_context first{};
  const snapshot before = take_snapshot();
  std::size_t created = 0;
  std::string stop;
  try {
    for (; created < n; ++created) {
      observed_stack<Alloc> observed{alloc, probe, created == 0 ? &first : nullptr};
      fibers[created] = bc::fiber(std::allocator_arg, observed, &boost_body);
      fibers[created] = std::move(fibers[created]).resume();
    }
  } catch (const std::bad_alloc&) {
    stop = "std::bad_alloc from the stack allocator (" + std::string(std::strerror(errno)) + ")";
  } catch (const std::exception& e) {
    stop = one_line(e.what());
  }
  const snapshot suspended = take_snapshot();
  std::size_t finished = 0;
  for (std::size_t i = 0; i < created; ++i) {
    fibers[i] = std::move(fibers[i]).resume();
    finished += fibers[i] ? 0 : 1;
  }
  fibers.clear();
  const snapshot after = take_snapshot();
  out.add("created", static_cast<long long>(created));
  out.add("finished", static_cast<long long>(finished));
  add_snapshot(out, "before", before);
  add_snapshot(out, "suspended", suspended);
  add_snapshot(out, "after", after);
  out.add("stack_size", static_cast<long long>(first.size));
  out.add("stack_in_use", static_cast<long long>(reinterpret_cast<std::uintptr_t>(first.sp) - g_first_deepest));
  if (probe != nullptr) {
    out.add("guarded", probe->guarded);
    out.add("unguarded", probe->unguarded);
    out.add("first_unguarded", probe->first_unguarded);
    out.add("first_unguarded_vmas", probe->first_unguarded_vmas);
  }
  if (!stop.empty()) out.add("stop", stop);
  return 0;
}
#endif

int child_memory(std::string_view kind, std::size_t n) {
  child_result out;
  out.add("kind", std::string(kind));
  out.add("count", static_cast<long long>(n));
  out.add("depth", static_cast<long long>(g_depth));
  int rc = 2;
  if (kind == "cospace") rc = child_cospace(out, n, false, true);
  else if (kind == "cospace_mprotect") rc = child_cospace(out, n, true, true);
  else if (kind == "cospace_nocolour") rc = child_cospace(out, n, false, false);
#if COSPACE_BENCH_HAVE_BOOST
  else if (kind == "boost_fixedsize") rc = child_boost(out, n, bc::fixedsize_stack{}, nullptr);
  else if (kind == "boost_pooled") rc = child_boost(out, n, bc::pooled_fixedsize_stack{}, nullptr);
  else if (kind == "boost_protected") {
    guard_probe probe;
    rc = child_boost(out, n, bc::protected_fixedsize_stack{}, &probe);
  }
#endif
  else {
    std::fprintf(stderr, "cospace_bench_memory: unknown kind '%.*s'\n", static_cast<int>(kind.size()), kind.data());
    return 2;
  }
  out.print();
  return rc;
}

// ---- the child: one deep recursion ------------------------------------------

std::size_t g_deep_bytes = 1 << 20;
std::uintptr_t g_deep_deepest = 0;
[[maybe_unused]] bool g_deep_guarded = false;  // Boost's protected stack: its size includes the guard

// Printed (and flushed) before the descent, so that the parent has it even if
// the child dies.
void report_below(std::uintptr_t usable_bottom) {
  std::printf("writable_below=%zu\t\n", writable_below(usable_bottom, g_deep_bytes));
  std::fflush(stdout);
}

void cospace_deep_body() {
  const cospace::detail::fiber_stack& stack = cospace::detail::current_fiber()->stack;
  if (stack.kind == cospace::stack_kind::fixed) report_below(stack.bottom);
  g_deep_deepest = run_descent(g_deep_bytes, nullptr, nullptr);
}

int child_deep(std::string_view kind) {
  child_result out;
  out.add("kind", std::string(kind));
  std::uintptr_t lo = 0;
  if (kind == "cospace" || kind == "cospace_fixed") {
    cospace::fiber_options options;
    if (kind == "cospace_fixed") options.stack = cospace::stack_kind::fixed;
    cospace::fiber f(&cospace_deep_body, options);
    f.resume();  // region: the stack grows; fixed: its guard page lies below its bottom
  }
#if COSPACE_BENCH_HAVE_BOOST
  else {
    static bc::stack_context sc{};
    auto run = [&](auto alloc) {
      observed_stack<decltype(alloc)> observed{alloc, nullptr, &sc};
      bc::fiber f(std::allocator_arg, observed, [](bc::fiber&& caller) {
        // protected_fixedsize_stack's size includes its guard page at the bottom.
        const std::uintptr_t bottom = reinterpret_cast<std::uintptr_t>(sc.sp) - sc.size;
        report_below(g_deep_guarded ? bottom + bc::stack_traits::page_size() : bottom);
        g_deep_deepest = run_descent(g_deep_bytes, nullptr, nullptr);
        return std::move(caller);
      });
      f = std::move(f).resume();
    };
    if (kind == "boost_fixedsize") run(bc::fixedsize_stack{});
    else if (kind == "boost_pooled") run(bc::pooled_fixedsize_stack{});
    else if (kind == "boost_protected") {
      g_deep_guarded = true;
      run(bc::protected_fixedsize_stack{});
    } else {
      std::fprintf(stderr, "cospace_bench_memory: unknown kind '%.*s'\n", static_cast<int>(kind.size()), kind.data());
      return 2;
    }
    lo = reinterpret_cast<std::uintptr_t>(sc.sp) - sc.size;
  }
#else
  else {
    std::fprintf(stderr, "cospace_bench_memory: unknown kind '%.*s'\n", static_cast<int>(kind.size()), kind.data());
    return 2;
  }
#endif
  out.add("result", "ok");
  if (lo != 0 && g_deep_deepest < lo) out.add("overrun", static_cast<long long>(lo - g_deep_deepest));
  out.print();
  return 0;
}

// ---- the parent ---------------------------------------------------------------

using fields = std::map<std::string, std::string>;

struct child_outcome {
  fields values;
  int exit_code = -1;
  int signal = 0;
};

// Runs this program again with `args`, collecting its stdout line.
child_outcome run_child(const std::vector<std::string>& args) {
  child_outcome outcome;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("cospace_bench_memory: pipe2");
    std::exit(1);
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("cospace_bench_memory: fork");
    std::exit(1);
  }
  if (pid == 0) {
    // A crashing child must not dump the core of a terabyte reservation.
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    dup2(fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    static char self[] = "/proc/self/exe";
    argv.push_back(self);
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(self, argv.data());
    std::perror("cospace_bench_memory: execv");
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = read(fds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find_first_of("\t\n", at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    const std::size_t eq = item.find('=');
    if (eq != std::string::npos) outcome.values[item.substr(0, eq)] = item.substr(eq + 1);
    at = end + 1;
  }
  return outcome;
}

long long get(const fields& f, const char* key, long long fallback = -1) {
  const auto it = f.find(key);
  return it == f.end() ? fallback : std::strtoll(it->second.c_str(), nullptr, 10);
}
std::string get_text(const fields& f, const char* key) {
  const auto it = f.find(key);
  return it == f.end() ? std::string() : it->second;
}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

struct memory_row {
  std::string kind;
  std::size_t count = 0;
  child_outcome outcome;
  bool ok() const { return outcome.exit_code == 0 && outcome.values.count("created") != 0; }
  long long created() const { return get(outcome.values, "created", 0); }
  double delta_kib(const char* when, const char* what) const {
    return static_cast<double>(get(outcome.values, (std::string(when) + "_" + what).c_str()) -
                               get(outcome.values, (std::string("before_") + what).c_str()));
  }
  double per_fiber(const char* when) const {
    const long long n = created();
    return n == 0 ? 0 : (delta_kib(when, "rss") + delta_kib(when, "pte")) / static_cast<double>(n);
  }
};

struct deep_row {
  std::string kind;
  child_outcome outcome;
  std::string verdict() const {
    const long long below = get(outcome.values, "writable_below", 0);
    if (outcome.signal != 0 && below > 0)
      return signal_name(outcome.signal) + " (no guard: it first overwrote the " +
             (below < 4096 ? std::to_string(below) + " bytes" : std::to_string(below / 1024) + " KiB") +
             " of writable memory mapped below its stack)";
    if (outcome.signal != 0) return signal_name(outcome.signal);
    if (outcome.exit_code != 0) return "exit " + std::to_string(outcome.exit_code);
    const long long overrun = get(outcome.values, "overrun", 0);
    if (overrun > 0) return "ok, but wrote " + std::to_string(overrun / 1024) + " KiB below its stack";
    return "ok";
  }
};

const char* describe_kind(const std::string& kind) {
  if (kind == "cospace") return "cospace::fiber, region (default)";
  if (kind == "cospace_mprotect") return "cospace::fiber, region, mprotect mode";
  if (kind == "cospace_nocolour") return "cospace::fiber, region, colour_stacks off";
  if (kind == "cospace_fixed") return "cospace::fiber, stack_kind::fixed (64 KiB)";
  if (kind == "boost_fixedsize") return "Boost fiber, fixedsize_stack";
  if (kind == "boost_pooled") return "Boost fiber, pooled_fixedsize_stack";
  if (kind == "boost_protected") return "Boost fiber, protected_fixedsize_stack";
  return kind.c_str();
}

// The stack a kind gives a fiber, for the deep-recursion table.
std::string stack_of(const std::string& kind) {
  if (kind == "cospace") return "grows (1 GiB limit)";
  if (kind == "cospace_fixed") return "64 KiB + guard page";
#if COSPACE_BENCH_HAVE_BOOST
  const std::string size = std::to_string(bc::stack_traits::default_size() / 1024) + " KiB";
  if (kind == "boost_protected") return size + " + guard page";
  if (kind == "boost_fixedsize" || kind == "boost_pooled") return size + ", no guard";
#endif
  return "?";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

std::vector<std::string> split(const std::string& text, char by) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t end = text.find(by, at);
    if (end == std::string::npos) end = text.size();
    if (end > at) parts.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

std::optional<std::size_t> parse_count(const char* text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text, &end);  // accepts 1e6
  if (end == text || *end != '\0' || errno != 0 || value < 1 || value > 1e8) return std::nullopt;
  return static_cast<std::size_t>(value);
}

constexpr const char* usage =
    "usage: cospace_bench_memory [--count N]... [--kinds a,b,...] [--depth BYTES]\n"
    "                            [--deep-bytes BYTES] [--no-deep] [--no-memory] [--json FILE]\n"
    "  kinds: cospace cospace_nocolour cospace_mprotect"
#if COSPACE_BENCH_HAVE_BOOST
    " boost_fixedsize boost_pooled boost_protected"
#endif
    "\n  default: cospace at 1e4 1e5 1e6, cospace_nocolour and cospace_mprotect at 1e4 1e5"
#if COSPACE_BENCH_HAVE_BOOST
    ", boost_* at 1e4 1e5\n  (boost_protected at 1e5 is the vm.max_map_count run: it stops at 100,000)"
#endif
    "\n  every count of every kind runs in a fresh process; the 1e6 cospace run needs ~10 GiB (pages + page tables)\n";

int parent(int argc, char** argv) {
  std::vector<std::size_t> counts;
  std::vector<std::string> kinds;
  std::string json_path;
  bool deep = true, memory = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "cospace_bench_memory: %s needs a value\n%s", argv[i], usage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--count") {
      const char* text = value();
      const auto n = parse_count(text);
      if (!n) {
        std::fprintf(stderr, "cospace_bench_memory: --count %s is not a count (1 to 1e8)\n", text);
        return 2;
      }
      counts.push_back(*n);
    } else if (arg == "--kinds") {
      kinds = split(value(), ',');
    } else if (arg == "--depth") {
      g_depth = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--deep-bytes") {
      g_deep_bytes = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--no-deep") {
      deep = false;
    } else if (arg == "--no-memory") {
      memory = false;
    } else if (arg == "--json") {
      json_path = value();
    } else {
      std::fputs(usage, stderr);
      return 2;
    }
  }
  const std::vector<std::string> all_kinds = {
      "cospace", "cospace_nocolour", "cospace_mprotect",
#if COSPACE_BENCH_HAVE_BOOST
      "boost_fixedsize", "boost_pooled", "boost_protected",
#endif
  };
  if (kinds.empty()) kinds = all_kinds;
  for (const std::string& k : kinds) {
    bool known = k == "cospace_fixed";
    for (const std::string& a : all_kinds) known = known || a == k;
    if (!known) {
      std::fprintf(stderr, "cospace_bench_memory: unknown kind '%s'\n%s", k.c_str(), usage);
      return 2;
    }
  }

  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  utsname host{};
  uname(&host);
  std::printf("cospace_bench_memory: %s, Linux %s %s; vm.max_map_count ", date, host.release, host.machine);
  if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    long v = 0;
    if (std::fscanf(f, "%ld", &v) == 1) std::printf("%ld", v);
    std::fclose(f);
  }
#if COSPACE_BENCH_HAVE_BOOST
  std::printf("; Boost %s, default stack %zu bytes", BOOST_LIB_VERSION, bc::stack_traits::default_size());
#else
  std::printf("; built without Boost.Context (apt install libboost-context-dev, reconfigure)");
#endif
  std::printf("\n");

  std::vector<memory_row> rows;
  if (memory) {
    std::printf("\nResident memory per suspended fiber: (delta VmRSS + delta VmPTE) / fibers, each body ~%zu "
                "bytes deep at its yield; fresh process per row\n",
                g_depth);
    std::printf("  %-40s %8s %8s %9s %8s %8s %7s %7s %10s %9s  %s\n", "kind", "fibers", "made", "KiB/fiber",
                "RSS/f", "PTE/f", "VMAs", "+VMAs", "after end", "stack use", "notes");
    for (const std::string& kind : kinds) {
      if (kind == "cospace_fixed") continue;
      std::vector<std::size_t> plan = counts;
      if (plan.empty()) {
        plan = {10'000, 100'000};
        if (kind == "cospace") plan.push_back(1'000'000);
      }
      for (const std::size_t n : plan) {
        memory_row row;
        row.kind = kind;
        row.count = n;
        row.outcome = run_child({"--child", "memory", kind, std::to_string(n), std::to_string(g_depth)});
        const fields& v = row.outcome.values;
        if (!row.ok()) {
          std::printf("  %-40s %8zu  failed: %s\n", describe_kind(kind), n,
                      row.outcome.signal != 0 ? signal_name(row.outcome.signal).c_str()
                                              : ("exit " + std::to_string(row.outcome.exit_code)).c_str());
          rows.push_back(std::move(row));
          continue;
        }
        const double n_made = static_cast<double>(row.created());
        std::string notes;
        if (v.count("mode") != 0)
          notes += "mode " + get_text(v, "mode") + ", reservation " + get_text(v, "reserved_gib") + " GiB";
        if (v.count("stack_size") != 0) notes += "stack " + std::to_string(get(v, "stack_size") / 1024) + " KiB";
        if (v.count("guarded") != 0) {
          notes += "; guarded " + get_text(v, "guarded") + ", unguarded " + get_text(v, "unguarded");
          if (get(v, "first_unguarded") >= 0)
            notes += " (from #" + get_text(v, "first_unguarded") + ", at " + get_text(v, "first_unguarded_vmas") +
                     " VMAs)";
        }
        if (v.count("stop") != 0) notes += "; stopped: " + get_text(v, "stop");
        std::printf("  %-40s %8zu %8lld %9.2f %8.2f %8.2f %7lld %+7lld %10.2f %9lld  %s\n", describe_kind(kind), n,
                    row.created(), row.per_fiber("suspended"), row.delta_kib("suspended", "rss") / n_made,
                    row.delta_kib("suspended", "pte") / n_made, get(v, "suspended_vmas"),
                    get(v, "suspended_vmas") - get(v, "before_vmas"), row.per_fiber("after"),
                    get(v, "stack_in_use"), notes.c_str());
        std::fflush(stdout);
        rows.push_back(std::move(row));
      }
    }
    std::printf("  KiB/fiber = RSS/f + PTE/f while all are suspended; VMAs = lines of /proc/self/maps then "
                "(+VMAs: made by the fibers);\n  after end = KiB/fiber still resident once all ended and were "
                "destroyed; stack use = bytes from the first fiber's stack top to its deepest frame at the yield\n");
  }

  std::vector<deep_row> deep_rows;
  if (deep) {
    std::printf("\nA recursion %zu bytes deep in one fiber (child process; frames of ~220 bytes, so a guard page "
                "is never stepped over)\n",
                g_deep_bytes);
    std::vector<std::string> deep_kinds = kinds;
    bool has_fixed = false;
    for (const std::string& k : deep_kinds) has_fixed = has_fixed || k == "cospace_fixed";
    if (!has_fixed) deep_kinds.insert(deep_kinds.begin() + (deep_kinds.empty() ? 0 : 1), "cospace_fixed");
    for (const std::string& kind : deep_kinds) {
      if (kind == "cospace_mprotect" || kind == "cospace_nocolour") continue;  // as cospace here
      deep_row row;
      row.kind = kind;
      row.outcome = run_child({"--child", "deep", kind, std::to_string(g_deep_bytes)});
      std::printf("  %-42s %-22s %s\n", describe_kind(kind), stack_of(kind).c_str(), row.verdict().c_str());
      deep_rows.push_back(std::move(row));
    }
  }

  // Targets.
  std::vector<std::string> targets;
  const memory_row* million = nullptr;
  for (const memory_row& r : rows)
    if (r.kind == "cospace" && r.count == 1'000'000 && r.ok()) million = &r;
  if (memory) {
    std::printf("\nTargets (issue \"Recursive process spaces\", 1,000,000 guarded cospace fibers):\n");
    if (million == nullptr || million->created() != 1'000'000) {
      targets.push_back("memory per fiber at 1e6: not measured in this run");
      targets.push_back("VMAs at 1e6: not measured in this run");
    } else {
      char line[384];
      const double kib = million->per_fiber("suspended");
      const char* env = std::getenv("COSPACE_RESERVATION");
      const std::string setting = env != nullptr && *env != '\0'
                                      ? std::string(", COSPACE_RESERVATION=") + env + ": not the default configuration"
                                      : std::string(", default configuration");
      std::snprintf(line, sizeof line,
                    "memory per fiber at 1e6 = %.2f KiB (target <= 8.5 KiB: %s; ratio %.3f; reservation %s GiB%s)", kib,
                    kib <= 8.5 ? "met" : "NOT met", kib / 8.5, get_text(million->outcome.values, "reserved_gib").c_str(),
                    setting.c_str());
      targets.push_back(line);
      const long long vmas = get(million->outcome.values, "suspended_vmas");
      std::snprintf(line, sizeof line, "VMAs in use at 1e6 = %lld (target <= 100: %s; ratio %.3f)", vmas,
                    vmas <= 100 ? "met" : "NOT met", static_cast<double>(vmas) / 100);
      targets.push_back(line);
    }
    for (const std::string& t : targets) std::printf("  %s\n", t.c_str());
  }

  if (!json_path.empty()) {
    std::FILE* f = std::fopen(json_path.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "cospace_bench_memory: cannot write %s: %s\n", json_path.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(f, "{\n  \"date\": \"%s\",\n  \"kernel\": \"%s\",\n  \"machine\": \"%s\",\n  \"depth\": %zu,\n",
                 date, host.release, host.machine, g_depth);
    std::fprintf(f, "  \"memory\": [");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const memory_row& r = rows[i];
      std::fprintf(f, "%s\n    {\"kind\": \"%s\", \"count\": %zu, \"exit_code\": %d, \"signal\": %d", i ? "," : "",
                   r.kind.c_str(), r.count, r.outcome.exit_code, r.outcome.signal);
      if (r.ok()) {
        const double n = static_cast<double>(r.created());
        std::fprintf(f,
                     ", \"kib_per_fiber\": %.4f, \"rss_kib_per_fiber\": %.4f, \"pte_kib_per_fiber\": %.4f, "
                     "\"after_end_kib_per_fiber\": %.4f",
                     r.per_fiber("suspended"), r.delta_kib("suspended", "rss") / n,
                     r.delta_kib("suspended", "pte") / n, r.per_fiber("after"));
      }
      for (const auto& [k, v] : r.outcome.values) {
        if (k == "kind" || k == "count") continue;
        const bool number = !v.empty() && v.find_first_not_of("-0123456789") == std::string::npos;
        if (number) std::fprintf(f, ", \"%s\": %s", k.c_str(), v.c_str());
        else std::fprintf(f, ", \"%s\": \"%s\"", k.c_str(), json_escape(v).c_str());
      }
      std::fprintf(f, "}");
    }
    std::fprintf(f, "\n  ],\n  \"deep_recursion_bytes\": %zu,\n  \"deep\": [", g_deep_bytes);
    for (std::size_t i = 0; i < deep_rows.size(); ++i) {
      std::fprintf(f, "%s\n    {\"kind\": \"%s\", \"stack\": \"%s\", \"result\": \"%s\"}", i ? "," : "",
                   deep_rows[i].kind.c_str(), stack_of(deep_rows[i].kind).c_str(),
                   json_escape(deep_rows[i].verdict()).c_str());
    }
    std::fprintf(f, "\n  ],\n  \"targets\": [");
    for (std::size_t i = 0; i < targets.size(); ++i)
      std::fprintf(f, "%s\n    \"%s\"", i ? "," : "", json_escape(targets[i]).c_str());
    std::fprintf(f, "\n  ]\n}\n");
    std::fclose(f);
    std::printf("\nJSON written to %s\n", json_path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string_view(argv[1]) == "--child") {
    const std::string_view mode = argv[2];
    if (mode == "memory" && argc == 6) {
      g_depth = std::strtoull(argv[5], nullptr, 10);
      return child_memory(argv[3], std::strtoull(argv[4], nullptr, 10));
    }
    if (mode == "deep" && argc == 5) {
      g_deep_bytes = std::strtoull(argv[4], nullptr, 10);
      return child_deep(argv[3]);
    }
    std::fprintf(stderr, "cospace_bench_memory: bad --child arguments\n");
    return 2;
  }
  return parent(argc, argv);
}
