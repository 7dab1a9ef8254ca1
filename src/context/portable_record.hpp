// What the two portable backends (sjlj, ucontext) keep beside the machine
// state of a suspended context. A record lives on the suspended context's own
// stack: inside the frame of its pending jump, or at the top of a fresh stack.
// Its address is the context's handle.
#pragma once

#include <cospace/context.h>

#include <cstddef>
#include <cstdint>

namespace cospace::context {

struct resume_slot {
  cospace_transfer incoming{};              // written by the context that jumps here
  cospace_ontop_function ontop = nullptr;   // set by an ontop jump, consumed on resume
};

// Called by the resumed side: what its pending jump returns (or its entry receives).
inline cospace_transfer take_resume(resume_slot& slot) {
  if (cospace_ontop_function fn = slot.ontop) {
    slot.ontop = nullptr;
    return fn(slot.incoming);
  }
  return slot.incoming;
}

// Where a fresh context's record goes: the highest 16-byte-aligned address
// below `top` that leaves room for T.
template <class T>
T* record_at_top(void* top) {
  const auto address = (reinterpret_cast<std::uintptr_t>(top) - sizeof(T)) & ~std::uintptr_t{15};
  return reinterpret_cast<T*>(address);
}

template <class T>
cospace_context as_handle(T* record) {
  return reinterpret_cast<cospace_context>(record);
}

template <class T>
T* from_handle(cospace_context handle) {
  return reinterpret_cast<T*>(handle);
}

}  // namespace cospace::context
