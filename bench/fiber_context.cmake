# Benchmarks of this layer (included from bench/CMakeLists.txt after Google Benchmark is found).
#
#   cospace_bench_fiber_context  Google Benchmark: cospace::fiber_context's resume
#                                round trip, resume_with and create + run + end,
#                                next to boost::context::fiber in the same run,
#                                with the ratios and the issue's target printed
#                                at the end (docs/benchmarks/fiber_context.md).
add_executable(cospace_bench_fiber_context ${CMAKE_CURRENT_LIST_DIR}/fiber_context.cpp)
target_link_libraries(cospace_bench_fiber_context PRIVATE cospace_internal benchmark::benchmark)
cospace_target_warnings(cospace_bench_fiber_context)
if(Boost_FOUND)
  cospace_bench_use_boost(cospace_bench_fiber_context)
endif()
