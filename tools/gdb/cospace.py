# cospace's gdb extension: lists the fibers of a stopped program and shows the
# backtrace of a suspended one.
#
#   (gdb) source tools/gdb/cospace.py
#   (gdb) info fibers
#   (gdb) fiber bt alpha        (or: fiber bt 3, fiber bt alpha full)
#
# How fibers are found, at no cost to the running program: the library keeps a
# pointer to the global space in the C symbol `cospace_debug_global_space`
# (src/space/space.cpp). The space's regions partition its reservation in
# address order, from `lowest_` upward through `above` (src/space/region.hpp);
# each live stack region holds one fiber, whose record (fiber_control,
# src/fiber/fiber_control.hpp) sits at the very top of the stack, where
# create_fiber (src/fiber/lifetime.cpp) placed it:
#
#     record = align_down(region.top - sizeof(fiber_control), alignof(fiber_control))
#
# A record is trusted only if it points back at its region (stack.owner_region)
# and carries the region's id: between carving a region and constructing the
# record the two disagree, and the fiber is shown as "(no record)".
#
# What is not listed: fibers on fixed stacks (they are not in any space) and
# region fibers of spaces other than the global one (fiber_options::space).
#
# `fiber bt` borrows the selected thread: it loads the fiber's saved registers
# (the frame its context switch left on its stack, src/context/x86_64_frame.h)
# into the thread, runs gdb's own `bt`, and puts back every register it
# changed, whatever happens. The program itself is never called and never
# runs. Types come from the library's debug information (any build with -g,
# such as RelWithDebInfo).

import struct

import gdb

_SPACE_TYPE = "cospace::detail::space_impl"
_REGION_TYPE = "cospace::detail::region"
_RECORD_TYPE = "cospace::detail::fiber_control"
_GLOBAL_SPACE = "cospace_debug_global_space"

# Longer names are refused by create_fiber (max_name in src/fiber/lifetime.cpp).
_MAX_NAME = 255
# A guard against walking a corrupt region list forever.
_MAX_REGIONS = 1 << 22


def _short(enum_field_name):
    """'cospace::detail::fiber_state::suspended' -> 'suspended'."""
    return enum_field_name.rsplit("::", 1)[-1]


def _enum_name(value):
    """The enumerator's short name, or its number when it has none."""
    number = int(value)
    for field in value.type.strip_typedefs().fields():
        if field.enumval == number:
            return _short(field.name)
    return str(number)


def _lookup_types():
    types = {}
    for key, name in (("space", _SPACE_TYPE), ("region", _REGION_TYPE), ("record", _RECORD_TYPE)):
        try:
            types[key] = gdb.lookup_type(name)
        except gdb.error:
            raise gdb.GdbError(
                "cospace: no debug information for %s; build cospace with -g "
                "(for instance CMAKE_BUILD_TYPE=RelWithDebInfo) or load its debug symbols" % name)
    return types


def _require_process():
    inferior = gdb.selected_inferior()
    if inferior is None or inferior.pid == 0:
        raise gdb.GdbError("cospace: the program is not being run")
    thread = gdb.selected_thread()
    if thread is None:
        raise gdb.GdbError("cospace: no thread is selected")
    if thread.is_running():
        raise gdb.GdbError("cospace: the selected thread is running; interrupt the program first")
    return inferior, thread


def _global_space(types):
    """The global space_impl, or None while it does not exist yet."""
    try:
        address = gdb.parse_and_eval("&" + _GLOBAL_SPACE)
    except gdb.error:
        raise gdb.GdbError("cospace: this program has no symbol %s; is it linked with cospace?"
                           % _GLOBAL_SPACE)
    pointer = address.cast(types["space"].pointer().pointer()).dereference()
    if int(pointer) == 0:
        return None
    return pointer.dereference()


def _string_view(value):
    """The text of a std::string_view (libstdc++ or libc++ layout)."""
    view = value.type.strip_typedefs()
    names = [field.name for field in view.fields()]
    for data_name, size_name in (("_M_str", "_M_len"), ("__data_", "__size_"), ("__data", "__size")):
        if data_name in names and size_name in names:
            size = int(value[size_name])
            if size == 0:
                return ""
            if size > _MAX_NAME:
                return "<name of %d bytes?>" % size
            data = gdb.selected_inferior().read_memory(int(value[data_name]), size)
            return bytes(data).decode("utf-8", errors="replace")
    raise gdb.GdbError("cospace: cannot read a std::string_view laid out as %s" % view)


class Fiber(object):
    """One live stack region of the global space and the fiber it holds."""

    def __init__(self, region_address, region, record_address, record):
        self.region_address = region_address
        self.region = region
        self.record_address = record_address
        self.record = record  # None: no valid record yet (or any more)
        self.top = int(region["top"])
        self.zone_hi = int(region["zone_hi"])
        self.lo = int(region["lo"])
        self.in_use = self.top - self.zone_hi
        if record is not None:
            self.id = int(record["id"])
            self.name = _string_view(record["name"])
            self.state = _enum_name(record["state"])
            self.kind = _enum_name(record["stack"]["kind"])
        else:
            self.id = int(region["id"])
            self.name = ""
            self.state = "(no record)"
            self.kind = "region"

    def describe(self):
        if self.name:
            return "fiber %d '%s'" % (self.id, self.name)
        return "fiber %d" % self.id


def _fibers(types):
    """Every live stack region of the global space, lowest address first."""
    space = _global_space(types)
    if space is None:
        return None
    record_type = types["record"]
    region_pointer_type = types["region"].pointer()
    size, alignment = record_type.sizeof, record_type.alignof
    stack = _lookup_enum("cospace::detail::region_kind", "stack")
    live = _lookup_enum("cospace::detail::region_state", "live")
    fibers = []
    seen = set()
    pointer = space["lowest_"]
    while int(pointer) != 0:
        address = int(pointer)
        if address in seen or len(seen) >= _MAX_REGIONS:
            raise gdb.GdbError("cospace: the global space's region list loops at 0x%x; "
                               "is memory corrupt?" % address)
        seen.add(address)
        region = pointer.dereference()
        if int(region["kind"]) == stack and int(region["state"]) == live:
            record_address = (int(region["top"]) - size) & ~(alignment - 1)
            record = gdb.Value(record_address).cast(record_type.pointer()).dereference()
            try:
                owner = int(record["stack"]["owner_region"])
                if owner != address or int(record["id"]) != int(region["id"]):
                    record = None
                fiber = Fiber(address, region, record_address, record)
            except gdb.MemoryError:
                fiber = Fiber(address, region, record_address, None)
            fibers.append(fiber)
        pointer = region["above"].cast(region_pointer_type)
    return fibers


def _lookup_enum(type_name, short_name):
    try:
        enum_type = gdb.lookup_type(type_name)
    except gdb.error:
        raise gdb.GdbError("cospace: no debug information for %s" % type_name)
    for field in enum_type.fields():
        if _short(field.name) == short_name:
            return field.enumval
    raise gdb.GdbError("cospace: %s has no enumerator %s; is this script older than the library?"
                       % (type_name, short_name))


def _stack_pointer_of(thread):
    """The stack pointer of a stopped thread (switches to it: callers restore)."""
    thread.switch()
    return int(gdb.newest_frame().read_register("sp"))


class _SelectionKeeper(object):
    """Restores the selected thread and frame when the block ends."""

    def __enter__(self):
        self.thread = gdb.selected_thread()
        try:
            self.level = gdb.selected_frame().level()
        except (gdb.error, AttributeError):
            self.level = 0
        return self

    def __exit__(self, *exc):
        if self.thread is not None and self.thread.is_valid():
            self.thread.switch()
            _select_level(self.level)
        return False


def _select_level(level):
    try:
        frame = gdb.newest_frame()
        for _ in range(level):
            older = frame.older()
            if older is None:
                break
            frame = older
        frame.select()
    except gdb.error:
        pass


def _running_threads(fibers):
    """For running fibers: region address -> the thread whose stack is in it."""
    running = [f for f in fibers if f.state == "running"]
    if not running:
        return {}
    where = {}
    with _SelectionKeeper():
        for thread in gdb.selected_inferior().threads():
            if not thread.is_valid() or thread.is_running():
                continue
            try:
                sp = _stack_pointer_of(thread)
            except gdb.error:
                continue
            for fiber in running:
                if fiber.lo <= sp < fiber.top:
                    where[fiber.region_address] = thread
    return where


class InfoFibers(gdb.Command):
    """List the fibers of the program: id, name, state, stack kind, stack in use.

Usage: info fibers

Shows one line per fiber on a region stack of the global space (the default
for cospace::fiber): its id, its name, its state (created, running, suspended
or done), its stack kind and the bytes of stack in use (from the stack's top
to the deepest page made usable). A running fiber also names the thread it
runs on.

Only region fibers of the global space are listed: fibers on fixed stacks
(stack_kind::fixed) and fibers placed in a space of their own
(fiber_options::space) are not in it. The program itself is not called;
cospace's debug information is needed (any build with -g).
See also: fiber bt."""

    def __init__(self):
        super(InfoFibers, self).__init__("info fibers", gdb.COMMAND_STATUS, gdb.COMPLETE_NONE)

    def invoke(self, argument, from_tty):
        if argument.strip():
            raise gdb.GdbError("usage: info fibers")
        _require_process()
        fibers = _fibers(_lookup_types())
        if fibers is None:
            gdb.write("No fibers: the global space does not exist yet.\n")
            return
        if not fibers:
            gdb.write("No fibers in the global space.\n")
            return
        fibers.sort(key=lambda fiber: (fiber.record is None, fiber.id))
        threads = _running_threads(fibers)
        rows = [("Id", "Name", "State", "Stack", "In use (bytes)")]
        for fiber in fibers:
            state = fiber.state
            thread = threads.get(fiber.region_address)
            if thread is not None:
                state += " (thread %d)" % thread.num
            rows.append((str(fiber.id), fiber.name or "-", state, fiber.kind, str(fiber.in_use)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
            gdb.write("  ".join(cells).rstrip() + "\n")


class FiberPrefix(gdb.Command):
    """Commands for cospace fibers. See also: info fibers."""

    def __init__(self):
        super(FiberPrefix, self).__init__("fiber", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


# Where a suspended context keeps its registers, per architecture (gdb's name):
# the frame the asm backend's jump leaves at the handle's address, as
# (register, offset) pairs, the offset the stack pointer resumes at, and the
# frame's size. x86-64: src/context/x86_64_frame.h.
_X86_64_FRAME = {
    "registers": (("rip", 0x38), ("rbp", 0x30), ("rbx", 0x28), ("r15", 0x20),
                  ("r14", 0x18), ("r13", 0x10), ("r12", 0x08)),
    "stack_pointer": ("rsp", 0x40),
    "size": 0x40,
}
_FRAMES = {"i386:x86-64": _X86_64_FRAME}


def _symbol_exists(name):
    try:
        gdb.parse_and_eval("&" + name)
        return True
    except gdb.error:
        return False


def _is_code(address):
    try:
        return gdb.block_for_pc(address) is not None
    except (gdb.error, RuntimeError):
        return False


class FiberBacktrace(gdb.Command):
    """Print the backtrace of a suspended fiber.

Usage: fiber bt ID|NAME [BACKTRACE-OPTIONS]

ID is a fiber's id as `info fibers` shows it; NAME is its name, if exactly one
fiber bears it (a name made only of digits is taken as an id). Anything after
it goes to `backtrace` (e.g. `fiber bt alpha full`, `fiber bt 3 -frame-info
short-location`).

The fiber must be suspended: a running fiber's frames are on its thread's
stack (use `thread N` then `bt`), a created one has not run yet and a done one
has no frames left. The program must be stopped.

How: the selected thread's registers are set for a moment to those the fiber
saved when it suspended, gdb's `backtrace` runs, and every register changed is
put back, even if the backtrace fails. The program is not called.

Only region fibers of the global space can be named (see `info fibers`). Needs
x86-64 and cospace's asm context backend (the default); other architectures
and backends are not supported yet."""

    def __init__(self):
        super(FiberBacktrace, self).__init__("fiber bt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, argument, from_tty):
        self.dont_repeat()
        words = argument.split(None, 1)
        if not words:
            raise gdb.GdbError("usage: fiber bt ID|NAME [BACKTRACE-OPTIONS]")
        wanted, backtrace_options = words[0], (words[1] if len(words) > 1 else "")
        _, thread = _require_process()
        fibers = _fibers(_lookup_types())
        if fibers is None:
            raise gdb.GdbError("cospace: no fibers: the global space does not exist yet")
        fiber = _find(fibers, wanted)
        self._refuse_unless_suspended(fiber, fibers)
        frame = self._saved_frame(fiber)
        gdb.write("%s, suspended (shown on the registers of thread %d):\n"
                  % (fiber.describe()[0].upper() + fiber.describe()[1:], thread.num))
        _with_registers(frame, lambda: gdb.execute(("backtrace " + backtrace_options).strip()))

    @staticmethod
    def _refuse_unless_suspended(fiber, fibers):
        if fiber.record is None:
            raise gdb.GdbError("cospace: %s has no fiber record yet (or any more): it is being "
                               "made or destroyed" % fiber.describe())
        if fiber.state == "suspended":
            return
        if fiber.state == "running":
            thread = _running_threads(fibers).get(fiber.region_address)
            where = "thread %d" % thread.num if thread is not None else "its thread"
            raise gdb.GdbError("cospace: %s is running, so its frames are on %s's stack: "
                               "select that thread and use `bt`" % (fiber.describe(), where))
        if fiber.state == "created":
            raise gdb.GdbError("cospace: %s was created but never resumed: it has no frames yet"
                               % fiber.describe())
        if fiber.state == "done":
            raise gdb.GdbError("cospace: %s is done: its body has returned and it has no frames "
                               "left" % fiber.describe())
        raise gdb.GdbError("cospace: %s is in an unknown state (%s)" % (fiber.describe(), fiber.state))

    @staticmethod
    def _saved_frame(fiber):
        """{register: value} as the fiber's context switch saved them."""
        architecture = gdb.newest_frame().architecture().name()
        layout = _FRAMES.get(architecture)
        if layout is None:
            raise gdb.GdbError("cospace: fiber bt is not supported yet on %s (only x86-64)"
                               % architecture)
        if not _symbol_exists("cospace_asm_jump"):
            raise gdb.GdbError("cospace: fiber bt supports only the asm context backend; this "
                               "program uses another (sjlj or ucontext)")
        others = [b for b in ("sjlj", "ucontext") if _symbol_exists("cospace_%s_jump" % b)]
        handle = int(fiber.record["context"])
        size = layout["size"]
        if handle % 16 != 0 or not fiber.zone_hi <= handle <= fiber.record_address - size:
            raise gdb.GdbError("cospace: %s's saved context 0x%x is not on its stack [0x%x, 0x%x)"
                               % (fiber.describe(), handle, fiber.zone_hi, fiber.record_address))
        raw = bytes(gdb.selected_inferior().read_memory(handle, size))
        registers = {}
        for name, offset in layout["registers"]:
            registers[name] = struct.unpack_from("<Q", raw, offset)[0]
        sp_name, sp_offset = layout["stack_pointer"]
        registers[sp_name] = handle + sp_offset
        pc = registers["rip"]
        # A program that links several backends (the benchmarks do) gives no
        # sign of which one the library uses: trust the frame only if its
        # resume address is code.
        if others and not _is_code(pc):
            raise gdb.GdbError("cospace: %s's saved context does not look like the asm backend's "
                               "(this program also links the %s backend)"
                               % (fiber.describe(), " and ".join(others)))
        return registers


_NOT_LISTED = (" (see `info fibers`; fibers on fixed stacks and in spaces of their own are "
               "not listed)")


def _find(fibers, wanted):
    if wanted.isdigit():
        number = int(wanted)
        for fiber in fibers:
            if fiber.id == number:
                return fiber
        raise gdb.GdbError("cospace: no fiber with id %d in the global space%s" % (number, _NOT_LISTED))
    named = [fiber for fiber in fibers if fiber.name == wanted]
    if not named:
        raise gdb.GdbError("cospace: no fiber named '%s' in the global space%s" % (wanted, _NOT_LISTED))
    if len(named) > 1:
        raise gdb.GdbError("cospace: %d fibers are named '%s' (ids %s): give an id"
                           % (len(named), wanted, ", ".join(str(f.id) for f in named)))
    return named[0]


def _with_registers(values, action):
    """Runs action() with the selected thread's innermost registers set to
    `values`, then puts back every one it changed (on any exit) and the frame
    that was selected."""
    with _SelectionKeeper():
        gdb.newest_frame().select()
        newest = gdb.newest_frame()
        saved = [(name, int(newest.read_register(name))) for name in values]
        changed = []
        try:
            for name, value in values.items():
                changed.append(name)
                gdb.execute("set $%s = 0x%x" % (name, value), to_string=True)
            action()
        finally:
            errors = []
            for name, value in reversed(saved):
                if name not in changed:
                    continue
                try:
                    gdb.execute("set $%s = 0x%x" % (name, value), to_string=True)
                except gdb.error as error:
                    errors.append("%s (%s)" % (name, error))
            if errors:
                gdb.write("cospace: could not restore %s; the thread's registers are wrong now\n"
                          % ", ".join(errors), gdb.STDERR)


InfoFibers()
FiberPrefix()
FiberBacktrace()
