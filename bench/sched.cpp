// The scheduler layer's costs next to Go's, measured in the same run.
//
//   cospace_bench_sched [--go-source DIR] [--rounds N] [--repeat K] [--no-go]
//   cospace_bench_sched --only {pingpong_one_thread|pingpong_same_site|pingpong_forced_apart|
//                               pingpong_migratable|spawn_join} [--rounds N]
//   cospace_bench_sched --child-million N
//
// --only runs one measurement once and prints it (the single-worker ones
// for `valgrind --tool=callgrind`, whose instruction counts do not move
// with the machine's load; forced apart to compare two builds alternately).
// --child-million N spawns N fibers as the `million` row does, in this
// process, and prints its time per fiber and peak memory.
//
// Four measurements, each the median of K runs (3), cospace first, then the
// same program in Go (bench/go/sched_bench.go, built once with `go build`
// when a `go` command is on PATH; skipped with a note otherwise):
//
//   pingpong_one_thread   two fibers pass a counter back and forth over two
//                         unbuffered channels on one worker (Go: GOMAXPROCS=1);
//                         ns per hop (one send received); also as the worker
//                         thread's CPU time, which leaves out the time this
//                         shared VM's other load takes the CPU away
//   pingpong_same_site    the same, but both fibers run one function, so that
//                         no return after a switch is mispredicted (thread CPU)
//   pingpong_two_workers  the same with two workers, the fibers wherever they
//                         started (Go: GOMAXPROCS=2, the same)
//   pingpong_migratable   two workers, both fibers spawned with
//                         spawn_options::migrate, so that a woken fiber runs
//                         on its waker's worker, as Go's goroutines do
//   pingpong_two_threads  two workers, the fibers forced onto different threads
//                         (checked with gettid); Go: each goroutine locked to an
//                         OS thread of its own (runtime.LockOSThread, checked
//                         with gettid), so each hop is a hand-off between threads
//   spawn_join            a fiber spawns a trivial fiber and joins it, N times,
//                         on one worker (Go: go + WaitGroup, GOMAXPROCS=1);
//                         also as thread CPU time
//   floor                 what a hop on one thread cannot do without: an
//                         uncontended locked read-modify-write (an atomic
//                         exchange on a line this thread owns, each waiting
//                         for the one before; a thread-safe channel's send
//                         and receive each take one, which costs less inside
//                         a hop, where it waits for nothing) and a switch
//                         between two plain fibers (this_fiber::switch_to),
//                         and the same switch made from one function that
//                         the two call from different places, as a hop's
//                         channel operations are (so the return after it is
//                         mispredicted)
//   million               1,000,000 trivial fibers spawned from one fiber on
//                         every worker, then waited for with a wait_group; the
//                         time per fiber and the peak resident memory (VmHWM)
//                         of a fresh process (this program re-executed)
//
// Targets (issue 8): <= 30 ns a hop on one thread; ahead of Go across
// threads; spawn + join <= 100 ns.
#include <cospace/channel.hpp>
#include <cospace/fiber.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
}

long kernel_thread_id() { return syscall(SYS_gettid); }

// CPU time of the calling thread: on one worker every fiber of a measurement
// runs on that thread, so this leaves out the time the VM's other load
// takes the CPU away (wall time does not).
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Wall and thread-CPU nanoseconds per operation.
struct timing {
  double wall;
  double cpu;
};

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  return -1;
}

struct pingpong_result {
  double ns_per_hop;
  bool different_threads;
  double cpu_ns_per_hop;  // meaningful on one worker only
};

pingpong_result pingpong(unsigned threads, long rounds, bool apart, bool migrate = false) {
  cospace::scheduler s({.threads = threads});
  const cospace::spawn_options options{.migrate = migrate};
  cospace::channel<long> ping, pong;
  std::atomic<long> tid_b{0};
  std::atomic<bool> on_same_thread{false};
  auto b = s.spawn([&] {
    tid_b = kernel_thread_id();
    for (long v : ping) pong.send(v + 1);
    pong.close();
  }, options);
  while (tid_b.load() == 0) std::this_thread::yield();
  // `apart`: A must run on the other worker. A started fiber stays where it
  // started, so an A that starts on B's thread gives up at once and is
  // spawned again (new fibers go round-robin, and an idle worker steals them).
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto a = s.spawn([&]() -> timing {
      const bool same = kernel_thread_id() == tid_b.load();
      if (apart && same) return {-1, -1};
      on_same_thread = same;
      ping.send(-1);  // both running
      pong.recv();
      const double cpu_start = thread_cpu_ns();
      const auto start = clock_type::now();
      for (long i = 0; i < rounds; ++i) {
        ping.send(i);
        pong.recv();
      }
      const double hops = static_cast<double>(2 * rounds);
      return {ns_since(start) / hops, (thread_cpu_ns() - cpu_start) / hops};
    }, options);
    const timing ns = a.join();
    if (ns.wall < 0) continue;
    ping.close();
    b.join();
    return {ns.wall, !on_same_thread.load(), ns.cpu};
  }
  ping.close();
  b.join();
  return {0, false, 0};
}

// One side of pingpong_same_site: both fibers run this one function, so
// every return after a switch goes where the other fiber's went and the
// processor's return predictor is right every time.
[[gnu::noinline]] void same_site_player(cospace::channel<long>& in, cospace::channel<long>& out, long n) {
  for (long i = 0; i < n; ++i) out.send(*in.recv() + 1);
}

// The one-thread ping-pong without its mispredicted return: thread CPU ns
// per hop (the difference from pingpong_one_thread's is what that return
// costs inside a hop).
double pingpong_same_site(long rounds) {
  cospace::scheduler s({.threads = 1});
  cospace::channel<long> ping, pong;
  auto b = s.spawn([&] { same_site_player(ping, pong, rounds + 1); });
  return s.spawn([&] {
            ping.send(0);
            const double cpu_start = thread_cpu_ns();
            same_site_player(pong, ping, rounds);
            const double cpu = (thread_cpu_ns() - cpu_start) / static_cast<double>(2 * rounds);
            pong.recv();
            b.join();
            return cpu;
          })
      .join();
}

// Nanoseconds per uncontended atomic exchange, each waiting for the one
// before (as a channel's lock does: the exchange that takes it comes before
// the protected reads).
[[gnu::noinline]] double locked_rmw_ns(long n) {
  std::atomic<long> word{0};
  long sum = 0;
  const auto start = clock_type::now();
  for (long i = 0; i < n; ++i) sum += word.exchange(i + sum, std::memory_order_acquire);
  const double ns = ns_since(start) / static_cast<double>(n);
  volatile long sink = sum;  // the chain's result is used: the loop stays
  static_cast<void>(sink);
  return ns;
}

// Switches to `to` n times. Both fibers of fiber_switch_ns run it, so each
// switch returns into the same code it left, as in the channel ping-pong
// (the return predictor sees one call chain, not two).
[[gnu::noinline]] void bounce(cospace::fiber& to, long n) {
  for (long i = 0; i < n; ++i) cospace::this_fiber::switch_to(to);
}

// Nanoseconds per this_fiber::switch_to between two plain fibers.
double fiber_switch_ns(long n) {
  cospace::fiber a, b;
  clock_type::time_point start;
  a = cospace::fiber([&] { bounce(b, n); });
  b = cospace::fiber([&] {
    start = clock_type::now();
    bounce(a, n + 1);  // a ends after its n-th switch back: the resume below returns
  });
  b.resume();
  return ns_since(start) / static_cast<double>(2 * n);
}

// A switch made from one function that the two fibers call from different
// places, as channel operations are: after each switch the return into the
// caller goes somewhere other than where the processor's return predictor
// (which holds the other fiber's calls) expects.
[[gnu::noinline]] void switch_once(cospace::fiber& to) {
  cospace::this_fiber::switch_to(to);
  asm volatile("");  // a real return, not a tail jump
}

// Thread CPU nanoseconds per switch_to between two plain fibers plus that
// mispredicted return: what a hop on one thread cannot do without, before
// any channel (as thread CPU, to compare with the hop's thread CPU).
double fiber_switch_mispredicted_ns(long n) {
  cospace::fiber a, b;
  double cpu_start = 0;
  a = cospace::fiber([&] {
    for (long i = 0; i < n; ++i) switch_once(b);
  });
  b = cospace::fiber([&] {
    cpu_start = thread_cpu_ns();
    for (long i = 0; i <= n; ++i) {
      switch_once(a);  // a different call site from a's
      asm volatile("");
    }
  });
  b.resume();
  return (thread_cpu_ns() - cpu_start) / static_cast<double>(2 * n);
}

timing spawn_join(long n) {
  cospace::scheduler s({.threads = 1});
  return s.spawn([n] {
            const double cpu_start = thread_cpu_ns();
            const auto start = clock_type::now();
            for (long i = 0; i < n; ++i) cospace::spawn([] {}).join();
            return timing{ns_since(start) / static_cast<double>(n),
                          (thread_cpu_ns() - cpu_start) / static_cast<double>(n)};
          })
      .join();
}

// In a fresh process: prints "million_ns_per_fiber", "million_peak_rss".
int million_child(long n) {
  const long base = status_kib("VmHWM");
  cospace::scheduler s;
  const double ns = s.spawn([n] {
                       cospace::wait_group wg;
                       wg.add(n);
                       const auto start = clock_type::now();
                       for (long i = 0; i < n; ++i) cospace::spawn([&wg] { wg.done(); }).detach();
                       wg.wait();
                       return ns_since(start);
                     })
                        .join();
  std::printf("million_ns_per_fiber %.1f ns\n", ns / static_cast<double>(n));
  std::printf("million_total %.1f ms\n", ns / 1e6);
  std::printf("million_peak_rss %ld KiB\n", status_kib("VmHWM"));
  std::printf("million_base_rss %ld KiB\n", base);
  return 0;
}

// 'text', for a shell command line (built by append: GCC 12 warns wrongly
// about `"'" + std::string(...)` at -O3).
std::string quoted(const std::string& text) {
  std::string out;
  out.append(1, '\'').append(text).append(1, '\'');
  return out;
}

// Runs a command, returns its stdout ("" on failure).
std::string run(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, p) != nullptr) out += buffer;
    if (pclose(p) != 0) out.clear();
  }
  return out;
}

// "name value unit" lines -> name: value.
std::map<std::string, double> parse(const std::string& text) {
  std::map<std::string, double> figures;
  std::istringstream in(text);
  std::string name, unit;
  double value;
  while (in >> name >> value >> unit) figures[name] = value;
  return figures;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string go_source = COSPACE_BENCH_GO_SOURCE;
  long rounds = 1000000;
  int repeat = 3;
  bool use_go = true;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--child-million" && i + 1 < argc) return million_child(std::atol(argv[i + 1]));
    if (arg == "--only" && i + 1 < argc) only = argv[++i];
    else     if (arg == "--go-source" && i + 1 < argc) go_source = argv[++i];
    else if (arg == "--rounds" && i + 1 < argc) rounds = std::max(1000L, std::atol(argv[++i]));
    else if (arg == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--no-go") use_go = false;
    else {
      std::fprintf(stderr, "usage: cospace_bench_sched [--go-source DIR] [--rounds N] [--repeat K] [--no-go]\n"
                           "       cospace_bench_sched --only {pingpong_one_thread|pingpong_same_site|pingpong_forced_apart|\n"
                           "                                   pingpong_migratable|spawn_join} [--rounds N]\n"
                           "       cospace_bench_sched --child-million N\n");
      return 2;
    }
  }
  if (only == "pingpong_one_thread") {
    const pingpong_result r = pingpong(1, rounds, false);
    std::printf("pingpong_one_thread %.1f ns (thread CPU %.1f ns)\n", r.ns_per_hop, r.cpu_ns_per_hop);
    return 0;
  }
  if (only == "pingpong_forced_apart") {
    const pingpong_result r = pingpong(2, rounds, true);
    if (!r.different_threads) {
      std::fprintf(stderr, "cospace_bench_sched: the fibers did not run on different threads\n");
      return 1;
    }
    std::printf("pingpong_forced_apart %.1f ns\n", r.ns_per_hop);
    return 0;
  }
  if (only == "pingpong_migratable") {
    const pingpong_result r = pingpong(2, rounds, false, true);
    std::printf("pingpong_migratable %.1f ns (%s)\n", r.ns_per_hop, r.different_threads ? "started apart" : "started together");
    return 0;
  }
  if (only == "pingpong_same_site") {
    std::printf("pingpong_same_site thread CPU %.1f ns\n", pingpong_same_site(rounds));
    return 0;
  }
  if (only == "spawn_join") {
    const timing t = spawn_join(rounds / 5);
    std::printf("spawn_join %.1f ns (thread CPU %.1f ns)\n", t.wall, t.cpu);
    return 0;
  }
  if (!only.empty()) {
    std::fprintf(stderr, "cospace_bench_sched: --only takes pingpong_one_thread, pingpong_same_site, "
                         "pingpong_forced_apart, pingpong_migratable or spawn_join\n");
    return 2;
  }
  const long spawns = rounds / 5;
  const long million = 1000000;

  std::map<std::string, double> ours;
  std::vector<double> v1, v2, v3, v4, v5, c1, c3;
  int together = 0;
  bool apart = true;
  for (int k = 0; k < repeat; ++k) {
    const pingpong_result one = pingpong(1, rounds, false);
    v1.push_back(one.ns_per_hop);
    c1.push_back(one.cpu_ns_per_hop);
    const pingpong_result any = pingpong(2, rounds, false);
    v4.push_back(any.ns_per_hop);
    together += any.different_threads ? 0 : 1;
    v5.push_back(pingpong(2, rounds, false, true).ns_per_hop);
    const pingpong_result two = pingpong(2, rounds, true);
    v2.push_back(two.ns_per_hop);
    apart = apart && two.different_threads;
    const timing sj = spawn_join(spawns);
    v3.push_back(sj.wall);
    c3.push_back(sj.cpu);
  }
  ours["pingpong_one_thread"] = median(v1);
  ours["pingpong_two_threads"] = median(v2);
  ours["pingpong_two_workers"] = median(v4);
  ours["pingpong_migratable"] = median(v5);
  ours["spawn_join"] = median(v3);
  ours["pingpong_one_thread_cpu"] = median(c1);
  ours["spawn_join_cpu"] = median(c3);
  {
    std::vector<double> t, rss;
    for (int k = 0; k < repeat; ++k) {
      auto f = parse(run(quoted(argv[0]) + " --child-million " + std::to_string(million)));
      t.push_back(f["million_ns_per_fiber"]);
      rss.push_back(f["million_peak_rss"]);
    }
    ours["million_ns_per_fiber"] = median(t);
    ours["million_peak_rss"] = median(rss);
  }
  {
    std::vector<double> rmw, sw, swm, same;
    for (int k = 0; k < repeat; ++k) {
      same.push_back(pingpong_same_site(rounds));
      rmw.push_back(locked_rmw_ns(rounds * 10));
      sw.push_back(fiber_switch_ns(rounds));
      swm.push_back(fiber_switch_mispredicted_ns(rounds));
    }
    ours["locked_rmw"] = median(rmw);
    ours["fiber_switch"] = median(sw);
    ours["fiber_switch_mispredicted"] = median(swm);
    ours["pingpong_same_site_cpu"] = median(same);
  }

  std::map<std::string, double> go;
  std::string go_note;
  if (use_go && !run("command -v go").empty()) {
    char dir[] = "/tmp/cospace_bench_go_XXXXXX";
    if (mkdtemp(dir) != nullptr) {
      const std::string binary = std::string(dir) + "/sched_bench";
      const std::string build = "cd " + quoted(go_source) + " && GOFLAGS=-mod=mod go build -o " + quoted(binary) +
                                " sched_bench.go 2>&1 && echo built";
      if (run(build).find("built") != std::string::npos) {
        auto median_of = [&](const std::string& what, long n, const std::string& key) {
          std::vector<double> v;
          for (int k = 0; k < repeat; ++k) v.push_back(parse(run(quoted(binary) + " " + what + " " + std::to_string(n)))[key]);
          go[key] = median(v);
        };
        median_of("pingpong_one_thread", rounds, "pingpong_one_thread");
        // Two workers, placed as they fall: Go's GOMAXPROCS=2 (it keeps a ping-pong on one thread).
        median_of("pingpong_two_threads", rounds, "pingpong_two_threads");
        go["pingpong_two_workers"] = go["pingpong_two_threads"];
        go["pingpong_migratable"] = go["pingpong_two_threads"];
        // Forced apart: each goroutine locked to a thread of its own, checked with gettid.
        median_of("pingpong_forced_apart", rounds, "pingpong_forced_apart");
        median_of("pingpong_forced_apart", rounds, "pingpong_forced_apart_distinct");
        go["pingpong_two_threads"] = go["pingpong_forced_apart"];
        median_of("spawn_join", spawns, "spawn_join");
        median_of("million", million, "million_ns_per_fiber");
        median_of("million", million, "million_peak_rss");
        go_note = run("go version");
      } else {
        go_note = "go build of " + go_source + "/sched_bench.go failed: Go figures skipped\n";
      }
      run("rm -rf " + quoted(dir));
    }
  } else {
    go_note = use_go ? "no `go` command on PATH: Go figures skipped\n" : "--no-go: Go figures skipped\n";
  }

  std::printf("cospace_bench_sched: median of %d runs; %ld round trips, %ld spawns, %ld fibers\n", repeat, rounds,
              spawns, million);
  std::printf("%s", go_note.c_str());
  std::printf("%-24s %14s %14s %10s\n", "measurement", "cospace", "Go", "Go/cospace");
  const struct {
    const char* key;
    const char* label;
    const char* unit;
  } rows[] = {{"pingpong_one_thread", "hop, one thread", "ns"},
              {"pingpong_one_thread_cpu", "  the same, thread CPU", "ns"},
              {"pingpong_same_site_cpu", "  one call site, CPU", "ns"},
              {"pingpong_two_workers", "hop, two workers", "ns"},
              {"pingpong_migratable", "  both migratable", "ns"},
              {"pingpong_two_threads", "hop, forced apart", "ns"},
              {"spawn_join", "spawn + join", "ns"},
              {"spawn_join_cpu", "  the same, thread CPU", "ns"},
              {"million_ns_per_fiber", "10^6 spawned: per fiber", "ns"},
              {"million_peak_rss", "10^6 spawned: peak RSS", "KiB"},
              {"locked_rmw", "floor: locked RMW", "ns"},
              {"fiber_switch", "floor: fiber switch", "ns"},
              {"fiber_switch_mispredicted", "  + its return, CPU", "ns"}};
  for (const auto& r : rows) {
    const double c = ours[r.key];
    const auto g = go.find(r.key);
    if (g != go.end() && g->second > 0)
      std::printf("%-24s %11.1f %-2s %11.1f %-2s %9.2fx\n", r.label, c, r.unit, g->second, r.unit, g->second / c);
    else
      std::printf("%-24s %11.1f %-2s %14s %10s\n", r.label, c, r.unit, "-", "-");
  }
  std::printf("hop, two workers: two workers, the fibers wherever they started (same thread in %d of %d runs);\n"
              "  Go: GOMAXPROCS=2, its goroutines wherever its runtime puts them (a woken goroutine goes to\n"
              "  its waker's P first, so mostly one thread).\n"
              "  both migratable: the same, both fibers spawned with spawn_options::migrate, so that a woken\n"
              "  fiber too runs on its waker's worker (Go's placement); Go: the same figure as above.\n"
              "hop, forced apart: the fibers on different threads: %s;\n"
              "  Go: each goroutine locked to a thread of its own (runtime.LockOSThread): %s.\n",
              together, repeat, apart ? "yes, checked with gettid in every run" : "NO: could not place them apart",
              go.count("pingpong_forced_apart_distinct") == 0 ? "not measured"
              : go["pingpong_forced_apart_distinct"] == 1 ? "different threads, checked with gettid"
                                                          : "NOT on different threads in the median run");
  std::printf("floor: a hop on one thread takes one fiber switch (%.1f ns here) and two locked\n"
              "  read-modify-writes (its send's and its receive's channel lock; %.1f ns each in a dependent\n"
              "  chain, ~1.5 ns each inside a hop: docs/benchmarks.md), and returns into a caller that is not\n"
              "  the one the switch left from (one mispredicted return a hop): a switch with that return\n"
              "  takes %.1f ns of thread CPU alone, but inside a hop the return costs little (the hop from\n"
              "  one call site, with no mispredicted return: %.1f ns against %.1f ns).\n",
              ours["fiber_switch"], ours["locked_rmw"], ours["fiber_switch_mispredicted"],
              ours["pingpong_same_site_cpu"], ours["pingpong_one_thread_cpu"]);
  std::printf("targets: hop on one thread <= 30 ns: %s; ahead of Go across threads: %s; spawn + join <= 100 ns: %s\n",
              ours["pingpong_one_thread"] <= 30 ? "met" : "not met",
              go.count("pingpong_two_threads") == 0 ? "not compared"
              : ours["pingpong_two_threads"] < go["pingpong_two_threads"] ? "met" : "not met",
              ours["spawn_join"] <= 100 ? "met" : "not met");
  return 0;
}
