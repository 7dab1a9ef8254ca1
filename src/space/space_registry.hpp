// Every live space, for debuggers: tools/gdb/cospace.py walks the list from
// the C symbol `cospace_debug_spaces` (space_registry.cpp) through
// space_impl::debug_next, to list the fibers of spaces made by the program
// (fiber_options::space) as well as the global one's. A space joins when it
// is made and leaves when it is destroyed; nothing on a fiber's path
// touches the list.
#pragma once

namespace cospace::detail {

class space_impl;

void register_space(space_impl* s) noexcept;
void unregister_space(space_impl* s) noexcept;

}  // namespace cospace::detail
