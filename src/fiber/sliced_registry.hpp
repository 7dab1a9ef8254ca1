// Where debuggers find sliced fibers (tools/gdb/cospace.py: `info fibers`).
//
// Region fibers are found through their space and fixed ones through the
// fixed-stack pool, at no cost to the program; a sliced fiber's record is a
// heap block that nothing else points to, so sliced fibers are registered:
// one array of record pointers per thread, each record keeping its index in
// fiber_stack::debug_slot (padding, so the record does not grow). The cost,
// sliced fibers only: a lock and a store per create and per destroy (a lock,
// a load and two stores), and 8 bytes of array per live sliced fiber (up to
// 16 while the array has room to spare). Region and fixed fibers never come
// here.
#pragma once

namespace cospace::detail {

class fiber_control;

// Adds a new sliced fiber to the calling thread's registry. Never throws: if
// the array cannot grow, the fiber is left out (debuggers report how many).
void register_sliced(fiber_control* f) noexcept;

// Removes it again, on whichever thread it is destroyed.
void unregister_sliced(fiber_control* f) noexcept;

}  // namespace cospace::detail
