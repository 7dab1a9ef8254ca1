# Benchmarks of this layer (included from bench/CMakeLists.txt after Google Benchmark is found).
