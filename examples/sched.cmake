# See examples/CMakeLists.txt.
