# Benchmarks of this layer (included from bench/CMakeLists.txt after Google Benchmark is found).
#
#   cospace_bench_sched  channel ping-pong (one thread, two threads), spawn +
#                        join, 10^6 fibers spawned with peak memory, next to
#                        the same Go program (bench/go/sched_bench.go) in the
#                        same run; needs only cospace (Go is skipped if absent).
#   bench/sched_http.sh  wrk against examples/http_hello and bench/go/http_hello.go.
add_executable(cospace_bench_sched sched.cpp)
target_link_libraries(cospace_bench_sched PRIVATE cospace_internal)
target_compile_definitions(cospace_bench_sched PRIVATE COSPACE_BENCH_GO_SOURCE="${CMAKE_CURRENT_SOURCE_DIR}/go")
cospace_target_warnings(cospace_bench_sched)
