#include "alternatives.hpp"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <string>
#include <vector>

namespace cospace::tool::bench {
namespace {

// The Go side of the suite. Timing runs on one OS thread (GOMAXPROCS=1), as a
// cospace fiber and its resumer do. Each goroutine of the memory figure
// descends about `depth` bytes in frames of ~256 bytes, then blocks on a
// channel, as a cospace fiber body yields at that depth.
constexpr const char* go_source = R"GO(package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func medianNsPerOp(reps int, batchSeconds float64, batch func(n int)) float64 {
	timeIt := func(n int) float64 {
		start := time.Now()
		batch(n)
		return time.Since(start).Seconds()
	}
	n := 16
	for took := timeIt(n); took < batchSeconds && n < 1<<40; took = timeIt(n) {
		f := 10.0
		if took > 0 {
			f = batchSeconds / took * 1.2
		}
		if f > 10 {
			f = 10
		} else if f < 2 {
			f = 2
		}
		n = int(float64(n) * f)
	}
	s := make([]float64, reps)
	for i := range s {
		s[i] = timeIt(n) * 1e9 / float64(n)
	}
	sort.Float64s(s)
	if reps%2 == 1 {
		return s[reps/2]
	}
	return (s[reps/2-1] + s[reps/2]) / 2
}

func timing(reps int, batchSeconds float64) {
	runtime.GOMAXPROCS(1)
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	fmt.Printf("channel_ns_per_round_trip=%.3f\n", medianNsPerOp(reps, batchSeconds, func(n int) {
		for i := 0; i < n; i++ {
			ping <- i
			<-pong
		}
	}))
	close(ping)
	var stop int32
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			runtime.Gosched()
		}
	}()
	fmt.Printf("gosched_ns_per_round_trip=%.3f\n", medianNsPerOp(reps, batchSeconds, func(n int) {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
	}))
	atomic.StoreInt32(&stop, 1)
	done := make(chan struct{})
	fmt.Printf("spawn_ns_per_goroutine=%.3f\n", medianNsPerOp(reps, batchSeconds, func(n int) {
		for i := 0; i < n; i++ {
			go func() { done <- struct{}{} }()
			<-done
		}
	}))
}

func statusKiB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == key+":" {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			return v
		}
	}
	return -1
}

func vmas() int64 {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return -1
	}
	return int64(strings.Count(string(data), "\n"))
}

func snapshot(when string) {
	fmt.Printf("rss_kib_%s=%d\npte_kib_%s=%d\nvmas_%s=%d\n", when, statusKiB("VmRSS"), when, statusKiB("VmPTE"), when, vmas())
}

//go:noinline
func descend(bytes int, atBottom func()) byte {
	var frame [224]byte
	frame[0] = byte(bytes)
	frame[223] = frame[0]
	if bytes > 256 {
		frame[1] = descend(bytes-256, atBottom)
	} else {
		atBottom()
	}
	return frame[1] + frame[223]
}

func memory(n, depth int) {
	release := make(chan struct{})
	var ready sync.WaitGroup
	runtime.GC()
	debug.FreeOSMemory()
	snapshot("before")
	start := time.Now()
	ready.Add(n)
	for i := 0; i < n; i++ {
		go descend(depth, func() {
			ready.Done()
			<-release
		})
	}
	ready.Wait()
	fmt.Printf("seconds=%.6f\ncreated=%d\n", time.Since(start).Seconds(), n)
	snapshot("suspended")
	close(release)
}

func main() {
	fmt.Printf("version=%s\n", runtime.Version())
	if len(os.Args) == 4 && os.Args[1] == "timing" {
		reps, _ := strconv.Atoi(os.Args[2])
		batch, _ := strconv.ParseFloat(os.Args[3], 64)
		timing(reps, batch)
	} else if len(os.Args) == 4 && os.Args[1] == "memory" {
		n, _ := strconv.Atoi(os.Args[2])
		depth, _ := strconv.Atoi(os.Args[3])
		memory(n, depth)
	} else if len(os.Args) != 2 || os.Args[1] != "version" {
		fmt.Fprintln(os.Stderr, "usage: bench (timing REPS BATCH_SECONDS | memory N DEPTH | version)")
		os.Exit(2)
	}
}
)GO";

// The greenlet side: the same figures, measured the same way. Python 3.11
// calls Python functions without using the C stack, so "depth" becomes one
// Python frame per 256 bytes; what greenlet saves at a switch is the C stack
// between the switch and the greenlet's start.
constexpr const char* greenlet_source = R"PY(
import gc, sys, time
try:
    import greenlet
    greenlet.greenlet, greenlet.getcurrent
except Exception as e:
    print("unavailable=%s: %s" % (type(e).__name__, str(e).replace("\n", " ")))
    sys.exit(0)
print("version=greenlet %s, Python %s" % (getattr(greenlet, "__version__", "?"), sys.version.split()[0]))

def median_ns_per_op(reps, batch_seconds, batch):
    def time_it(n):
        start = time.perf_counter()
        batch(n)
        return time.perf_counter() - start
    n = 16
    took = time_it(n)
    while took < batch_seconds:
        f = batch_seconds / took * 1.2 if took > 0 else 10
        n = int(n * min(10, max(2, f)))
        took = time_it(n)
    s = sorted(time_it(n) * 1e9 / n for _ in range(reps))
    return s[reps // 2] if reps % 2 else (s[reps // 2 - 1] + s[reps // 2]) / 2

def snapshot(when):
    values = {"VmRSS:": -1, "VmPTE:": -1}
    with open("/proc/self/status") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in values:
                values[parts[0]] = int(parts[1])
    with open("/proc/self/maps") as f:
        vmas = sum(1 for _ in f)
    print("rss_kib_%s=%d\npte_kib_%s=%d\nvmas_%s=%d" % (when, values["VmRSS:"], when, values["VmPTE:"], when, vmas))

def timing(reps, batch_seconds):
    main = greenlet.getcurrent()
    def bounce():
        while True:
            main.switch()
    g = greenlet.greenlet(bounce)
    g.switch()
    def switches(n):
        switch = g.switch
        for _ in range(n):
            switch()
    print("switch_ns_per_round_trip=%.3f" % median_ns_per_op(reps, batch_seconds, switches))
    def nothing():
        pass
    def spawns(n):
        make = greenlet.greenlet
        for _ in range(n):
            make(nothing).switch()
    print("spawn_ns_per_greenlet=%.3f" % median_ns_per_op(reps, batch_seconds, spawns))

def memory(n, depth):
    main = greenlet.getcurrent()
    frames = depth // 256
    def descend(k):
        if k > 0:
            return descend(k - 1)
        main.switch()
    def body():
        descend(frames)
    held = [None] * n
    warm = greenlet.greenlet(body)
    warm.switch()
    warm.switch()
    gc.collect()
    snapshot("before")
    start = time.perf_counter()
    for i in range(n):
        g = greenlet.greenlet(body)
        g.switch()
        held[i] = g
    print("seconds=%.6f\ncreated=%d" % (time.perf_counter() - start, n))
    snapshot("suspended")
    sys.stdout.flush()
    for g in held:
        g.switch()

if sys.argv[1:2] == ["timing"]:
    timing(int(sys.argv[2]), float(sys.argv[3]))
elif sys.argv[1:2] == ["memory"]:
    memory(int(sys.argv[2]), int(sys.argv[3]))
)PY";

std::string temporary_directory() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/cospace-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

bool write_file(const std::string& path, const char* text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs(text, f) >= 0;
  return std::fclose(f) == 0 && ok;
}

std::string plan_argument(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

go_alternative::go_alternative() {
  status_.program = find_program({"go", "/usr/bin/go", "/usr/lib/go/bin/go", "/usr/local/go/bin/go"});
  if (status_.program.empty()) {
    status_.reason = "no `go` on PATH or in /usr/bin, /usr/lib/go/bin, /usr/local/go/bin (Debian: golang-go)";
    return;
  }
  dir_ = temporary_directory();
  if (dir_.empty() || !write_file(dir_ + "/bench.go", go_source)) {
    status_.reason = "cannot write the Go program to a temporary directory";
    return;
  }
  // No network (GOPROXY=off, GOTOOLCHAIN=local); a cache of our own when there is no HOME to keep one in.
  std::vector<std::string> env = {"GOPROXY=off", "GOTOOLCHAIN=local", "GO111MODULE=off", "CGO_ENABLED=0"};
  if (std::getenv("HOME") == nullptr && std::getenv("GOCACHE") == nullptr) env.push_back("GOCACHE=" + dir_ + "/cache");
  const process_result build =
      run_process({status_.program, "build", "-o", dir_ + "/bench", dir_ + "/bench.go"}, env, 180);
  if (!build.ok()) {
    status_.reason = "`go build` of the embedded program failed: " + build.failure();
    return;
  }
  const process_result version = run_process({dir_ + "/bench", "version"}, {}, 30);
  status_.version = text_field(parse_fields(version.out), "version");
  status_.available = version.ok();
  if (!status_.available) status_.reason = "the Go program did not run: " + version.failure();
}

go_alternative::~go_alternative() {
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

process_result go_alternative::timing(const timing_plan& plan) const {
  return run_process({dir_ + "/bench", "timing", std::to_string(plan.repetitions), plan_argument(plan.batch_seconds)},
                     {}, 120);
}

process_result go_alternative::memory(std::size_t count, std::size_t depth, double timeout_seconds) const {
  return run_process({dir_ + "/bench", "memory", std::to_string(count), std::to_string(depth)}, {}, timeout_seconds);
}

greenlet_alternative::greenlet_alternative() {
  // Debian's python3 first: a python3 earlier on PATH (pyenv, a venv) may lack greenlet.
  std::string tried;
  std::string previous;
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string python = find_program({candidate});
    if (python.empty()) {
      tried += std::string(tried.empty() ? "" : "; ") + candidate + ": not found";
      continue;
    }
    if (python == previous) continue;
    previous = python;
    const process_result probe = run_process({python, "-c", greenlet_source}, {}, 30);
    const fields f = parse_fields(probe.out);
    if (probe.ok() && f.count("version") != 0) {
      status_ = {true, text_field(f, "version"), python, {}};
      return;
    }
    const std::string why = f.count("unavailable") != 0 ? text_field(f, "unavailable") : probe.failure();
    tried += (tried.empty() ? "" : "; ") + python + ": " + why;
  }
  status_.reason = "no python3 that can import greenlet (" + tried + "; Debian: python3-greenlet)";
}

process_result greenlet_alternative::timing(const timing_plan& plan) const {
  return run_process({status_.program, "-c", greenlet_source, "timing", std::to_string(plan.repetitions),
                      plan_argument(plan.batch_seconds)},
                     {}, 120);
}

process_result greenlet_alternative::memory(std::size_t count, std::size_t depth, double timeout_seconds) const {
  return run_process({status_.program, "-c", greenlet_source, "memory", std::to_string(count), std::to_string(depth)},
                     {}, timeout_seconds);
}

}  // namespace cospace::tool::bench
