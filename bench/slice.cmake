# Benchmarks of this layer (included from bench/CMakeLists.txt after Google Benchmark is found).
#   cospace_bench_slice         Google Benchmark: sliced switch cost against slice
#                               depth next to the region switch, lazy saving, several
#                               shared stacks, the C primitives
#   cospace_bench_slice_memory  resident memory per suspended sliced fiber (10^6,
#                               200-byte locals) and C-primitive tasklets (10^7,
#                               120-byte locals): a plain program
add_executable(cospace_bench_slice slice_switch.cpp)
target_link_libraries(cospace_bench_slice PRIVATE cospace_internal benchmark::benchmark)
cospace_target_warnings(cospace_bench_slice)
add_executable(cospace_bench_slice_memory slice_memory.cpp)
target_link_libraries(cospace_bench_slice_memory PRIVATE cospace_internal)
cospace_target_warnings(cospace_bench_slice_memory)
