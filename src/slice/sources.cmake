# Sources of this layer (see src/CMakeLists.txt).
