// Jumping into and out of slices.
//
// Any jump into a slice goes through slice_jump, and so does any jump out of
// one whose receiver would not record where it stopped: it makes the
// destination resident (slice.hpp) before the jump and, on the destination's
// side, records where the source stopped. (A sliced fiber's yield or
// switch_to into a thread or a region fiber is a plain jump: the fiber core's
// receiver records the stop itself, fiber/switch.cpp.) The copying must
// never run on the stack it rewrites, so:
//
//   caller not on the destination's stack:    caller on the destination's stack:
//
//     caller's stack     dest's stack           dest's stack (shared)   copier stack
//     | slice_jump |     | .......... |         | caller's frames  |    | copier_main   |
//     |  copy ---------> | restored   |         | slice_jump       |--->|  copy (memcpy)|
//     |  ontop ------->  | arrive()   |         | (handle = sp)    |    |  ontop ---+   |
//                                                | ..restored over..|<-----------+   |
//
// In the second case the caller's registers are saved first (a jump to the
// thread's copier context, on a region of its own), so from that moment
// nothing of the caller runs until it is resumed, and the copier may
// overwrite every byte of the shared stack below the destination's base: no
// call that uses the target area happens between the register switch and
// the end of the restore. The copier then jumps on top of the destination
// with `arrive`, which runs below the destination's restored stack pointer
// (never inside the restored bytes) and hands the destination the caller's
// handle, not the copier's, so the destination's pending jump returns
// exactly what a direct jump would have returned.
#pragma once

#include <cospace/context.h>

#include "slice.hpp"

namespace cospace::detail {

struct slice_jump_args {
  slice* from = nullptr;       // the caller's slice, if it is one: its stop is recorded
  slice* to_slice = nullptr;   // the destination's slice, if it is one: made resident first
  cospace_context to = nullptr;  // null: start to_slice afresh at its base with `fresh_entry`
  cospace_context_entry fresh_entry = nullptr;
  void* data = nullptr;
  cospace_ontop_function ontop = nullptr;  // optional: run on top of the destination first
};

// As the backend's jump (or ontop, when args.ontop is set): returns what the
// caller's pending jump receives when it is resumed.
cospace_transfer slice_jump(const slice_jump_args& args);

}  // namespace cospace::detail
