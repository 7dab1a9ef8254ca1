# cospace's gdb extension: lists the fibers of a stopped program and shows the
# backtrace of a suspended one.
#
#   (gdb) source tools/gdb/cospace.py
#   (gdb) info fibers
#   (gdb) fiber bt alpha        (or: fiber bt 3, fiber bt alpha full)
#
# How fibers are found, at no cost to the running program but for sliced
# fibers (below), by kind of stack:
#
# region  Every live space is on a list from the C symbol
#         `cospace_debug_spaces` (src/space/space_registry.cpp), the global
#         one and those a program makes (fiber_options::space). A space's
#         regions partition its reservation in address order, from `lowest_`
#         upward through `above` (src/space/region.hpp); each live stack
#         region holds one fiber, whose record (fiber_control,
#         src/fiber/fiber_control.hpp) sits at the very top of the stack,
#         where create_fiber (src/fiber/lifetime.cpp) placed it:
#             record = align_down(region.top - sizeof(fiber_control), alignof(fiber_control))
#         A record is trusted only if it points back at its region
#         (stack.owner_region) and carries the region's id: between carving
#         a region and constructing the record the two disagree, and the
#         fiber is shown as "(no record)". The slicing machinery's own stacks
#         (shared stacks, copiers) are regions too, and are left out: known
#         from the sliced fibers on them, their names, and each thread's
#         `t_slicing` (src/slice/thread_slicing.cpp), where gdb can read
#         thread-locals.
# fixed   Every mapping of the fixed-stack pool is on a list from
#         `cospace_debug_fixed_stacks` (src/fiber/fixed_stacks.cpp), its
#         header at the top of the mapping; a mapping lent to a fiber
#         (not `pooled`) has the record just below the header, found and
#         checked as for a region (stack.top is the header's address).
# sliced  A sliced fiber's record is a heap block: each thread registers
#         its sliced fibers in an array (src/fiber/sliced_registry.cpp), all
#         arrays on a list from `cospace_debug_sliced_registries`. A record
#         is trusted if it is sliced and its stack.debug_slot is its index.
#
# `fiber bt` borrows the selected thread: it loads the fiber's saved registers
# (the frame its context switch left on its stack, src/context/*_frame.h)
# into the thread, runs gdb's own `bt`, and puts back every register it
# changed, whatever happens. The program itself is never called and never
# runs. A sliced fiber's frames hold the addresses they had on its shared
# stack, so they are walked in place: if some of its slice is saved in the
# heap (another fiber of that stack ran since), those bytes are written back
# at their place for the backtrace, and what was there is written back after
# it, whatever happens (all-stop mode only: nothing runs meanwhile). Types
# come from the library's debug information (any build with -g, such as
# RelWithDebInfo).

import struct

import gdb

_SPACE_TYPE = "cospace::detail::space_impl"
_REGION_TYPE = "cospace::detail::region"
_RECORD_TYPE = "cospace::detail::fiber_control"
_FIXED_TYPE = "cospace::detail::fixed_header"
_REGISTRY_TYPE = "cospace::detail::sliced_registry"
_GLOBAL_SPACE = "cospace_debug_global_space"
_SPACES = "cospace_debug_spaces"
_FIXED_STACKS = "cospace_debug_fixed_stacks"
_SLICED_REGISTRIES = "cospace_debug_sliced_registries"
# The names the slicing machinery gives its own regions (src/slice/thread_slicing.cpp).
_MACHINERY_NAMES = ("shared stack", "cospace slicing copier")

# Longer names are refused by create_fiber (max_name in src/fiber/lifetime.cpp).
_MAX_NAME = 255
# A guard against walking a corrupt list forever.
_MAX_ITEMS = 1 << 22


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
    for key, name in (("space", _SPACE_TYPE), ("region", _REGION_TYPE), ("record", _RECORD_TYPE),
                      ("fixed", _FIXED_TYPE), ("registry", _REGISTRY_TYPE)):
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


def _debug_pointer(symbol, pointee):
    """The value of the library's pointer `symbol` (to a `pointee`), or None if null."""
    try:
        address = gdb.parse_and_eval("&" + symbol)
    except gdb.error:
        raise gdb.GdbError("cospace: this program has no symbol %s; is it linked with a cospace "
                           "as recent as this script?" % symbol)
    pointer = address.cast(pointee.pointer().pointer()).dereference()
    return None if int(pointer) == 0 else pointer


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


def _fiber_name(value):
    """A fiber record's name: a NUL-terminated text or null (fiber_name in
    src/fiber/fiber_control.hpp), or a std::string_view in older libraries."""
    names = [field.name for field in value.type.strip_typedefs().fields()]
    if "text_" not in names:
        return _string_view(value)
    address = int(value["text_"])
    if address == 0:
        return ""
    text = b""
    try:  # in small steps: the name may end close to the end of a mapping
        while len(text) <= _MAX_NAME:
            chunk = bytes(gdb.selected_inferior().read_memory(address + len(text), 16))
            if b"\0" in chunk:
                return (text + chunk.split(b"\0", 1)[0]).decode("utf-8", errors="replace")
            text += chunk
    except gdb.MemoryError:
        return "<unreadable name at 0x%x>" % address
    return "<name of more than %d bytes?>" % _MAX_NAME


def _c_string(address, limit=64):
    """A short NUL-terminated string of the program, or None if unreadable."""
    if address == 0:
        return None
    try:
        data = bytes(gdb.selected_inferior().read_memory(address, limit))
    except gdb.MemoryError:
        return None
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _walk(first, step, what):
    """Follows a linked list of gdb.Values from `first` by `step`, guarding against loops."""
    seen = set()
    pointer = first
    while pointer is not None and int(pointer) != 0:
        address = int(pointer)
        if address in seen or len(seen) >= _MAX_ITEMS:
            raise gdb.GdbError("cospace: %s loops at 0x%x; is memory corrupt?" % (what, address))
        seen.add(address)
        node = pointer.dereference()
        yield address, node
        pointer = step(node)


class Fiber(object):
    """One fiber: its record (None if it has no valid one) and where its stack is."""

    def __init__(self, kind, record_address, record, stack_lo, stack_hi, in_use, fallback_id=0):
        self.kind = kind
        self.record_address = record_address
        self.record = record
        # Where the fiber's frames may be: [stack_lo, stack_hi).
        self.stack_lo = stack_lo
        self.stack_hi = stack_hi
        self.in_use = in_use
        self.slice = None      # sliced fibers: their slice
        self.registry = None   # sliced fibers: the registry (its thread) they are on
        if record is not None:
            self.id = int(record["id"])
            self.name = _fiber_name(record["name"])
            self.state = _enum_name(record["state"])
        else:
            self.id = fallback_id
            self.name = ""
            self.state = "(no record)"

    def describe(self):
        if self.name:
            return "fiber %d '%s'" % (self.id, self.name)
        return "fiber %d" % self.id


def _slice_bounds(piece):
    """(base, low) of a `cospace::detail::slice`: where its stack starts and
    where it stopped. slice.hpp keeps the latter as a signed 32-bit `depth`
    below the base (negative: an attached slice stopped above its base)."""
    base = int(piece["base"])
    return base, (base - int(piece["depth"])) & 0xFFFFFFFFFFFFFFFF


def _record_below(top, record_type):
    address = (top - record_type.sizeof) & ~(record_type.alignof - 1)
    return address, gdb.Value(address).cast(record_type.pointer()).dereference()


def _spaces(types):
    """Every live space: the library's list, or the global space alone for a
    library older than that list."""
    try:
        gdb.parse_and_eval("&" + _SPACES)
    except gdb.error:
        space = _debug_pointer(_GLOBAL_SPACE, types["space"])
        return [] if space is None else [space]
    space_pointer_type = types["space"].pointer()
    head = _debug_pointer(_SPACES, types["space"])
    spaces = [node.address for _, node in _walk(head, lambda s: s["debug_next"].cast(space_pointer_type),
                                                  "the list of spaces")]
    spaces.reverse()  # oldest first: the global space's fibers before those of spaces made later
    return spaces


def _region_fibers(types, shared_regions, fibers):
    """Fibers on live stack regions of every space, space by space, lowest address first."""
    for space in _spaces(types):
        _space_region_fibers(types, space, shared_regions, fibers)


def _space_region_fibers(types, space, shared_regions, fibers):
    region_pointer_type = types["region"].pointer()
    stack = _lookup_enum("cospace::detail::region_kind", "stack")
    live = _lookup_enum("cospace::detail::region_state", "live")
    found = []

    def machinery():
        if not found:
            found.append(_slicing_regions())
        return found[0]

    for address, region in _walk(space.dereference()["lowest_"], lambda r: r["above"].cast(region_pointer_type),
                                 "a space's region list"):
        if int(region["kind"]) != stack or int(region["state"]) != live:
            continue
        top, zone_hi = int(region["top"]), int(region["zone_hi"])
        record_address, record = _record_below(top, types["record"])
        try:
            if int(record["stack"]["owner_region"]) != address or int(record["id"]) != int(region["id"]):
                record = None
        except gdb.MemoryError:
            record = None
        if record is None and (address in shared_regions
                               or _c_string(int(region["name"])) in _MACHINERY_NAMES
                               or address in machinery()):
            continue  # the slicing machinery's own stack, not a fiber's
        fiber = Fiber("region", record_address, record, zone_hi, top, top - zone_hi, int(region["id"]))
        fibers.append(fiber)


_THREAD_SLICING = "'cospace::detail::(anonymous namespace)::t_slicing'"


def _vector_items(vector):
    """The elements of a std::vector (libstdc++ or libc++ layout)."""
    try:
        start, finish = vector["_M_impl"]["_M_start"], vector["_M_impl"]["_M_finish"]
    except gdb.error:
        start, finish = vector["__begin_"], vector["__end_"]
    count = int(finish - start)
    if not 0 <= count <= _MAX_ITEMS:
        return []
    return [(start + i).dereference() for i in range(count)]


def _slicing_regions():
    """The regions of every live thread's slicing copier and pooled shared
    stacks (src/slice/thread_slicing.cpp keeps them in a thread-local), as
    far as gdb can read thread-locals; an empty set where it cannot."""
    regions = set()
    with _SelectionKeeper():
        for thread in gdb.selected_inferior().threads():
            if not thread.is_valid() or thread.is_running():
                continue
            try:
                thread.switch()
                slicing = gdb.parse_and_eval(_THREAD_SLICING)
                regions.add(int(slicing["copier_region_"]))
                for group in _vector_items(slicing["groups_"]):
                    for pooled in _vector_items(group["stacks"]):
                        if int(pooled) != 0:
                            regions.add(int(pooled.dereference()["stack"]["owner_region"]))
            except (gdb.error, gdb.MemoryError):
                continue
    regions.discard(0)
    return regions


def _fixed_fibers(types, fibers):
    """Fibers on stacks lent out by the fixed-stack pool."""
    head = _debug_pointer(_FIXED_STACKS, types["fixed"])
    if head is None:
        return
    fixed = _lookup_enum("cospace::stack_kind", "fixed")
    for address, header in _walk(head, lambda h: h["next"], "the fixed-stack pool's list"):
        if bool(header["pooled"]):
            continue
        mapping = address + types["fixed"].sizeof - int(header["mapping_size"])
        record_address, record = _record_below(address, types["record"])
        try:
            stack = record["stack"]
            bottom = int(stack["bottom"])
            if int(stack["kind"]) != fixed or int(stack["top"]) != address or not mapping < bottom < address:
                continue  # being made or destroyed, or a fiber_context's stack
        except gdb.MemoryError:
            continue
        # In use: the whole stack, as fiber::stack_in_use says of a fixed stack.
        fibers.append(Fiber("fixed", record_address, record, bottom, address, address - bottom))


def _sliced_fibers(types, fibers):
    """Sliced fibers, from each thread's registry; returns how many were left
    out (their registry could not grow) and the regions of their shared stacks."""
    left_out, shared_regions = 0, set()
    head = _debug_pointer(_SLICED_REGISTRIES, types["registry"])
    if head is None:
        return left_out, shared_regions
    sliced = _lookup_enum("cospace::stack_kind", "sliced")
    running = _lookup_enum("cospace::detail::fiber_state", "running")
    record_pointer = types["record"].pointer()
    for _, registry in _walk(head, lambda r: r["next"], "the list of sliced-fiber registries"):
        left_out += int(registry["left_out"])
        count = int(registry["count"])
        if count > _MAX_ITEMS:
            raise gdb.GdbError("cospace: a sliced-fiber registry claims %d fibers; is memory corrupt?" % count)
        array = registry["fibers"]
        for index in range(count):
            record_address = int(array[index])
            record = gdb.Value(record_address).cast(record_pointer).dereference()
            try:
                stack = record["stack"]
                if int(stack["kind"]) != sliced or int(stack["debug_slot"]) != index:
                    continue  # being registered or unregistered right now
                piece = stack["sliced"].dereference()
                shared = piece["stack"].dereference()
                base, low = _slice_bounds(piece)
                shared_regions.add(int(shared["owner_region"]))
                if int(record["state"]) != running:
                    in_use = base - low
                else:  # as fiber::stack_in_use: the shared stack's depth
                    region = shared["owner_region"].dereference()
                    in_use = int(region["top"]) - int(region["zone_hi"])
                fiber = Fiber("sliced", record_address, record, int(shared["bottom"]), base, in_use)
            except gdb.MemoryError:
                continue
            fiber.slice = piece
            fiber.registry = registry
            fibers.append(fiber)
    return left_out, shared_regions


def _fibers(types):
    """Every fiber that can be found, and how many sliced ones were left out."""
    fibers = []
    left_out, shared_regions = _sliced_fibers(types, fibers)
    _region_fibers(types, shared_regions, fibers)
    _fixed_fibers(types, fibers)
    return fibers, left_out


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
    """For running fibers: record address -> the thread whose stack is in its stack."""
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
                if fiber.stack_lo <= sp < fiber.stack_hi:
                    where[fiber.record_address] = thread
    return where


class InfoFibers(gdb.Command):
    """List the fibers of the program: id, name, state, stack kind, stack in use.

Usage: info fibers

Shows one line per fiber: its id, its name, its state (created, running,
suspended or done), its stack kind (region, fixed or sliced) and the bytes
of stack in use, as fiber::stack_in_use() would say (a region stack: from its
top to the deepest page made usable; a fixed one: all of it; a suspended
sliced one: its slice, wherever its bytes are now). A running fiber also
names the thread it runs on.

Listed: region fibers of every space (the global one and those the program
made, fiber_options::space), fibers on fixed stacks, sliced fibers. The
program itself is not called; cospace's debug information is needed (any build with
-g). See also: fiber bt."""

    def __init__(self):
        super(InfoFibers, self).__init__("info fibers", gdb.COMMAND_STATUS, gdb.COMPLETE_NONE)

    def invoke(self, argument, from_tty):
        if argument.strip():
            raise gdb.GdbError("usage: info fibers")
        _require_process()
        fibers, left_out = _fibers(_lookup_types())
        if not fibers:
            gdb.write("No fibers.\n")
        else:
            fibers.sort(key=lambda fiber: (fiber.record is None, fiber.id))
            threads = _running_threads(fibers)
            rows = [("Id", "Name", "State", "Stack", "In use (bytes)")]
            for fiber in fibers:
                state = fiber.state
                thread = threads.get(fiber.record_address)
                if thread is not None:
                    state += " (thread %d)" % thread.num
                rows.append((str(fiber.id), fiber.name or "-", state, fiber.kind, str(fiber.in_use)))
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
            for row in rows:
                cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
                gdb.write("  ".join(cells).rstrip() + "\n")
        if left_out:
            gdb.write("Not listed: up to %d sliced fibers made while memory was too short to "
                      "register them.\n" % left_out)


class FiberPrefix(gdb.Command):
    """Commands for cospace fibers. See also: info fibers."""

    def __init__(self):
        super(FiberPrefix, self).__init__("fiber", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


# Where a suspended context keeps its registers, per architecture (gdb's name):
# the frame the asm backend's jump leaves at the handle's address, as
# (register, offset) pairs, then the register that gets the resume address
# (the saved return address) and the stack pointer with the offset it resumes
# at, and the frame's size. From src/context/x86_64_frame.h, aarch64_frame.h
# and riscv64_frame.h. The floating-point callee-saved registers (AArch64
# d8-d15, RISC-V fs0-fs11) are not loaded: unwinding does not need them, but a
# float local the innermost frames keep in one shows the thread's value.
_FRAMES = {
    "i386:x86-64": {
        "registers": (("rbp", 0x30), ("rbx", 0x28), ("r15", 0x20), ("r14", 0x18), ("r13", 0x10),
                      ("r12", 0x08)),
        "pc": ("rip", 0x38),
        "stack_pointer": ("rsp", 0x40),
        "size": 0x40,
    },
    "aarch64": {
        "registers": tuple(("x%d" % n, 0x50 + 8 * (n - 19)) for n in range(19, 31)),
        "pc": ("pc", 0xa8),
        "stack_pointer": ("sp", 0xb0),
        "size": 0xb0,
    },
    "riscv:rv64": {
        "registers": tuple(("s%d" % n, 0x68 + 8 * (n - 1)) for n in range(1, 12))
                     + (("fp", 0xc0), ("ra", 0xc8)),
        "pc": ("pc", 0xc8),
        "stack_pointer": ("sp", 0xd0),
        "size": 0xd0,
    },
}
_ARCHITECTURES = "x86-64, AArch64 and RISC-V 64"


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
put back, even if the backtrace fails. The program is not called. A sliced
fiber's frames hold the addresses they had on its shared stack: if part of
its slice is saved in the heap (another fiber of that stack ran since), those
bytes are written back at their place for the backtrace and what was there
is restored after it, even if it fails. That needs all-stop mode (the
default): in non-stop mode another thread could be using the stack, and the
command refuses.

Any fiber `info fibers` lists can be named. Needs cospace's asm context
backend (the default) on x86-64, AArch64 or RISC-V 64."""

    def __init__(self):
        super(FiberBacktrace, self).__init__("fiber bt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, argument, from_tty):
        self.dont_repeat()
        words = argument.split(None, 1)
        if not words:
            raise gdb.GdbError("usage: fiber bt ID|NAME [BACKTRACE-OPTIONS]")
        wanted, backtrace_options = words[0], (words[1] if len(words) > 1 else "")
        _, thread = _require_process()
        fibers, _ = _fibers(_lookup_types())
        fiber = _find(fibers, wanted)
        self._refuse_unless_suspended(fiber, fibers)
        borrowed = _saved_slice(fiber)
        frame = self._saved_frame(fiber, borrowed)
        how = "" if borrowed is None else ("; its slice's %d saved bytes copied back onto its "
                                           "shared stack meanwhile" % len(borrowed[1]))
        gdb.write("%s, suspended (shown on the registers of thread %d%s):\n"
                  % (fiber.describe()[0].upper() + fiber.describe()[1:], thread.num, how))
        backtrace = lambda: gdb.execute(("backtrace " + backtrace_options).strip())
        if borrowed is None:
            _with_registers(frame, backtrace)
        else:
            _with_memory(borrowed, lambda: _with_registers(frame, backtrace))

    @staticmethod
    def _refuse_unless_suspended(fiber, fibers):
        if fiber.record is None:
            raise gdb.GdbError("cospace: %s has no fiber record yet (or any more): it is being "
                               "made or destroyed" % fiber.describe())
        if fiber.state == "suspended":
            return
        if fiber.state == "running":
            thread = _running_threads(fibers).get(fiber.record_address)
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
    def _saved_frame(fiber, borrowed):
        """{register: value} as the fiber's context switch saved them. For a
        sliced fiber whose slice is saved (`borrowed`, from _saved_slice) the
        frame is among the saved bytes, not on the shared stack."""
        architecture = gdb.newest_frame().architecture().name()
        layout = _FRAMES.get(architecture)
        if layout is None:
            raise gdb.GdbError("cospace: fiber bt is not supported on %s (only %s)"
                               % (architecture, _ARCHITECTURES))
        if not _symbol_exists("cospace_asm_jump"):
            raise gdb.GdbError("cospace: fiber bt supports only the asm context backend; this "
                               "program uses another (sjlj or ucontext)")
        others = [b for b in ("sjlj", "ucontext") if _symbol_exists("cospace_%s_jump" % b)]
        handle = int(fiber.record["context"])
        size = layout["size"]
        highest = fiber.record_address if fiber.slice is None else int(fiber.slice["base"])
        if handle % 16 != 0 or not fiber.stack_lo <= handle <= highest - size:
            raise gdb.GdbError("cospace: %s's saved context 0x%x is not on its stack [0x%x, 0x%x)"
                               % (fiber.describe(), handle, fiber.stack_lo, highest))
        raw = bytearray(gdb.selected_inferior().read_memory(handle, size))
        if borrowed is not None:  # overlay what of [handle, handle + size) is saved
            address, data = borrowed
            lo, hi = max(handle, address), min(handle + size, address + len(data))
            if lo < hi:
                raw[lo - handle:hi - handle] = data[lo - address:hi - address]
        raw = bytes(raw)
        registers = {}
        for name, offset in layout["registers"]:
            registers[name] = struct.unpack_from("<Q", raw, offset)[0]
        pc_name, pc_offset = layout["pc"]
        registers[pc_name] = pc = struct.unpack_from("<Q", raw, pc_offset)[0]
        sp_name, sp_offset = layout["stack_pointer"]
        registers[sp_name] = handle + sp_offset
        # A program that links several backends (the benchmarks do) gives no
        # sign of which one the library uses: trust the frame only if its
        # resume address is code.
        if others and not _is_code(pc):
            raise gdb.GdbError("cospace: %s's saved context does not look like the asm backend's "
                               "(this program also links the %s backend)"
                               % (fiber.describe(), " and ".join(others)))
        return registers


def _find(fibers, wanted):
    if wanted.isdigit():
        number = int(wanted)
        for fiber in fibers:
            if fiber.id == number:
                return fiber
        raise gdb.GdbError("cospace: no fiber with id %d%s" % (number, _NOT_LISTED))
    named = [fiber for fiber in fibers if fiber.name == wanted]
    if not named:
        raise gdb.GdbError("cospace: no fiber named '%s'%s" % (wanted, _NOT_LISTED))
    if len(named) > 1:
        raise gdb.GdbError("cospace: %d fibers are named '%s' (ids %s): give an id"
                           % (len(named), wanted, ", ".join(str(f.id) for f in named)))
    return named[0]


_NOT_LISTED = " (see `info fibers`)"


def _saved_slice(fiber):
    """For a sliced fiber whose slice is partly or wholly saved in the heap:
    (address, saved bytes) to put back at its place on the shared stack while
    its frames are walked (they hold the addresses they had there). None when
    nothing is saved (region and fixed fibers, resident slices)."""
    piece = fiber.slice
    if piece is None:
        return None
    saved = int(piece["saved_size"])
    base, low = _slice_bounds(piece)
    resident = bool(piece["resident"])
    if saved == 0 and resident:
        return None
    # What is not saved must be on the stack (slice.hpp: the saved part is a
    # prefix from `low`, the rest is resident while the slice is listed).
    if saved > base - low or (not resident and saved != base - low):
        raise gdb.GdbError("cospace: %s's slice is inconsistent (%d bytes saved of %d, %s): "
                           "is memory corrupt?" % (fiber.describe(), saved, base - low,
                                                   "listed resident" if resident else "not resident"))
    if gdb.parameter("non-stop"):
        raise gdb.GdbError("cospace: %s is sliced and %d of its bytes are saved in the heap; its "
                           "frames can be walked only in place, and in non-stop mode another "
                           "thread may be using its shared stack" % (fiber.describe(), saved))
    # The saved bytes are the slice's inline area (right after the slice,
    # inline_units * 16 bytes) followed by its heap block (src/slice/slice.hpp).
    inferior = gdb.selected_inferior()
    in_area = min(saved, int(piece["inline_units"]) * 16)
    data = bytes(inferior.read_memory(int(piece.address) + piece.type.sizeof, in_area)) if in_area else b""
    if saved > in_area:
        data += bytes(inferior.read_memory(int(piece["saved"]), saved - in_area))
    return low, data


def _with_memory(borrowed, action):
    """Runs action() with `borrowed` = (address, bytes) written over the
    program's memory there, then writes back what was there (on any exit).
    The program is stopped (all-stop mode), so nothing else sees the change."""
    address, data = borrowed
    inferior = gdb.selected_inferior()
    try:
        original = bytes(inferior.read_memory(address, len(data)))
    except gdb.MemoryError:
        raise gdb.GdbError("cospace: the shared stack at 0x%x is not readable for %d bytes, so the "
                           "fiber's saved slice cannot be put back there for the backtrace"
                           % (address, len(data)))
    try:
        inferior.write_memory(address, data)
        action()
    finally:
        try:
            inferior.write_memory(address, original)
        except gdb.error as error:
            gdb.write("cospace: could not put back %d bytes of the shared stack at 0x%x (%s); "
                      "the program's memory is wrong now\n" % (len(data), address, error), gdb.STDERR)


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
