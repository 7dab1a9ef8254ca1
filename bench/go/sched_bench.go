// Go's side of cospace_bench_sched (bench/sched.cpp): the same
// measurements on goroutines and unbuffered channels, printed as
// "name value unit" lines.
//
//	go run sched_bench.go pingpong_one_thread 1000000
//	go run sched_bench.go pingpong_two_threads 1000000
//	go run sched_bench.go pingpong_forced_apart 1000000
//	go run sched_bench.go spawn_join 200000
//	go run sched_bench.go million 1000000
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func pingpong(rounds int) float64 {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	start := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- i
		<-pong
	}
	elapsed := time.Since(start)
	close(ping)
	return float64(elapsed.Nanoseconds()) / float64(2*rounds) // ns per hop
}

// The same ping-pong with each goroutine locked to an OS thread of its own
// (runtime.LockOSThread), so that every hop is a hand-off between two
// threads, as cospace's "forced apart" row is. Without the locks Go's
// runtime keeps a ping-pong on one thread (a woken goroutine goes to its
// waker's P first). Returns ns per hop and whether the two goroutines ran on
// different threads (gettid).
func pingpongForcedApart(rounds int) (float64, bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ping := make(chan int)
	pong := make(chan int)
	partnerTid := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		partnerTid <- syscall.Gettid()
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	apart := <-partnerTid != syscall.Gettid()
	start := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- i
		<-pong
	}
	elapsed := time.Since(start)
	close(ping)
	return float64(elapsed.Nanoseconds()) / float64(2*rounds), apart
}

func spawnJoin(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// Peak resident memory (VmHWM) in KiB.
func peakKiB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmHWM:") {
			v, _ := strconv.Atoi(strings.Fields(s.Text())[1])
			return v
		}
	}
	return -1
}

func million(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("million_ns_per_fiber %.1f ns\n", float64(elapsed.Nanoseconds())/float64(n))
	fmt.Printf("million_total %.1f ms\n", float64(elapsed.Microseconds())/1000)
	fmt.Printf("million_peak_rss %d KiB\n", peakKiB())
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: sched_bench {pingpong_one_thread|pingpong_two_threads|pingpong_forced_apart|spawn_join|million} N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "sched_bench: N must be a positive number")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pingpong_one_thread":
		runtime.GOMAXPROCS(1)
		fmt.Printf("pingpong_one_thread %.1f ns\n", pingpong(n))
	case "pingpong_two_threads":
		runtime.GOMAXPROCS(2)
		fmt.Printf("pingpong_two_threads %.1f ns\n", pingpong(n))
	case "pingpong_forced_apart":
		runtime.GOMAXPROCS(2)
		hop, apart := pingpongForcedApart(n)
		fmt.Printf("pingpong_forced_apart %.1f ns\n", hop)
		distinct := 0
		if apart {
			distinct = 1
		}
		fmt.Printf("pingpong_forced_apart_distinct %d threads\n", distinct)
	case "spawn_join":
		runtime.GOMAXPROCS(1)
		fmt.Printf("spawn_join %.1f ns\n", spawnJoin(n))
	case "million":
		million(n)
	default:
		fmt.Fprintln(os.Stderr, "sched_bench: unknown measurement", os.Args[1])
		os.Exit(2)
	}
}
