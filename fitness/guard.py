"""Protect the in-guest harness from the candidate it runs.

This file runs inside the guest, next to `harness.py`. The candidate shares one
interpreter with the harness, so the harness defends the integrity of its verdicts
in three layers, all set up before the candidate is imported:

1. An authenticated report. The host hands out a fresh key at the first request of
   `KEY_LENGTH` random bytes and flags any later request. Each report line carries
   an HMAC-SHA256 over its sequence number and text, so lines the candidate writes
   into the report fail verification on the host.
2. An audit hook (`sys.addaudithook`, which cannot be removed). It acts while a
   candidate frame is on the stack, that is a frame of the candidate's file or of
   code executed on its behalf. Then it denies frame and traceback frame access,
   `gc` object walks and tracing. It denies compiling, except for imports through
   the standard loaders and for namedtuple and dataclasses. It denies setting
   attributes of protected objects: the functions and classes that existed before
   the candidate ran, and the suite's tests and benchmarks. It also denies opening
   files for writing and removing them, reading `/proc` (a process's own memory is
   there), starting processes, sending signals, creating sockets, changing resource
   limits and every `ctypes` operation. The last ones matter on the native backends
   (docker, process), where the guest can really do these things; there the
   container or the resource limits bound what slips past this hook.
3. A snapshot check. The harness records which functions, classes and modules every
   loaded module binds, the builtins, and the code and hypothesis handles of the
   suite's functions. Before each verdict it verifies that none was replaced. Code
   that runs between two checks (a thread, a signal handler, a gc callback, an import
   hook) could rebind a name and restore it in time, so the check also rejects any
   such hook the candidate left: a new thread, signal handler, import hook or a gc
   callback defined by the candidate.

On Linux the harness also marks its process as not dumpable before the candidate
runs, so that another process of the same user, such as a child the candidate
started some other way, cannot read the harness's memory through `/proc`.

Every function used after arming is a closure over references taken at arming time,
so rebinding a name in a module, this one included, does not change what it calls.

NOTE: the layers raise the bar but do not prove isolation: code reached through a
path this hook does not cover (for example a frame obtained from a trusted library
on the candidate's behalf and read later, or a `__del__` method that makes new
garbage each time it runs and so keeps running between checks) could still reach
the harness's state.
"""

import builtins
import hashlib
import hmac
import json.encoder
import operator
import os
import sys
import types

#: Must equal `sandbox._wasm.KEY_LENGTH`: the host returns the report key for the first
#: request of this many random bytes.
KEY_LENGTH = 59

#: Audit events that reach interpreter state the harness must keep to itself.
_INTROSPECTION_EVENTS = frozenset(
    {
        "sys._getframe",
        "sys._current_frames",
        "sys._current_exceptions",
        "sys.settrace",
        "sys.setprofile",
        "sys.addaudithook",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "compile",
        "exec",
        "code.__new__",
        "function.__new__",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.truncate",
        "os.link",
        "os.symlink",
        "os.chmod",
        "os.utime",
        "os.mkdir",
        # Native backends only: processes, signals, sockets and limits.
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.exec",
        "os.system",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "subprocess.Popen",
        "pty.spawn",
        "socket.__new__",
        "socket.bind",
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "resource.setrlimit",
        "resource.prlimit",
    }
)
#: CPython's own test modules, which candidate code may not import: `_testcapi`
#: and `_testinternalcapi` can write memory out of bounds on purpose, and the
#: check relies on `_testcapi`'s dict versions.
_TEST_MODULES = frozenset(
    {"_testcapi", "_testinternalcapi", "_testbuffer", "_testclinic", "_xxtestfuzz"}
)
#: Prefix of the audit events of `ctypes`, which reads and writes any memory.
_CTYPES_PREFIX = "ctypes."
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})


def make_reporter(stream, key: bytes):
    """Return `emit(event, **fields)`, writing authenticated lines to `stream`."""
    template = hmac.new(key, digestmod=hashlib.sha256)
    write, flush = stream.write, stream.flush
    encode_string = json.encoder.c_encode_basestring_ascii or _encode_string_fallback
    is_instance, to_str, float_repr = builtins.isinstance, builtins.str, float.__repr__
    join = ", ".join
    counter = [0]

    def encode(value):
        if value is None or value is True or value is False:
            return {None: "null", True: "true", False: "false"}[value]
        if is_instance(value, int):
            return int.__repr__(value)
        if is_instance(value, float):
            return float_repr(value)
        if is_instance(value, (list, tuple)):
            return "[" + join([encode(item) for item in value]) + "]"
        if is_instance(value, dict):
            items = [encode_string(to_str(k)) + ": " + encode(v) for k, v in value.items()]
            return "{" + join(items) + "}"
        return encode_string(to_str(value))

    def emit(event, **fields):
        text = encode({"event": event, "seq": counter[0], **fields})
        mac = template.copy()
        mac.update(text.encode("ascii"))
        write(text + "\t" + mac.hexdigest() + "\n")
        flush()
        counter[0] += 1

    return emit


def _encode_string_fallback(text):
    characters = []
    for character in text:
        code = ord(character)
        if 0x20 <= code < 0x7F and character not in '"\\':
            characters.append(character)
        elif code < 0x10000:
            characters.append("\\u%04x" % code)
        else:
            code -= 0x10000
            characters.append("\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
    return '"' + "".join(characters) + '"'


#: Modules that suites and targets commonly use, imported before arming so that the
#: snapshot watches them.
_PRELOADED = (
    "bisect", "collections", "copy", "fractions", "functools", "heapq",
    "itertools", "math", "operator", "random", "re", "statistics", "string",
)


#: A snapshot taken by `preload(snapshot=True)`, which `arm` extends.
_early = []


def preload(*, snapshot: bool = False) -> None:
    """Import the modules that `arm` snapshots beside those already imported.

    With `snapshot`, also record the bindings of every module now, so that `arm`
    reads again only the modules imported after this call. The warm wasm mode does
    this once, before it forks the guest for each evaluation.
    """
    for name in _PRELOADED:
        __import__(name)
    # Looked up before any snapshot, so that arming imports nothing more.
    _dict_version_reader()
    import logging  # noqa: F401 - imported for its side effect

    if snapshot:
        _early[:] = [_take_snapshot()]


def arm(candidate_path: str):
    """Install the audit hook and return `(check, protect)`.

    `check()` names the first rebinding it finds, or returns None. `protect(items,
    namespace)` extends both the hook and the check to objects made after arming,
    such as the suite's functions: their attributes can no longer be set from
    candidate code, and their code and hypothesis handles are compared at each check.
    """
    preload()
    # logging looks up the caller's frame for each record while `_srcfile` is set,
    # and the audit hook would deny that while candidate code is on the stack.
    import logging

    logging._srcfile = None
    _make_undumpable()
    # sys.monitoring raises no audit events, and its callbacks see every call and
    # return value, the harness's included. Its functions leave the guest's reach.
    monitoring = getattr(sys, "monitoring", None)
    for name in _MONITORING_FUNCTIONS:
        if hasattr(monitoring, name):
            delattr(monitoring, name)
    snapshot = _take_snapshot(_early.pop() if _early else None)
    # `kept` keeps every protected object alive, so their ids stay unique.
    kept = snapshot.protected
    protected_ids = snapshot.protected_ids
    is_candidate = _install_hook(candidate_path, protected_ids)
    check, watch = _make_check(snapshot, is_candidate)
    _armed.append((snapshot, check))
    keep, add_id = kept.append, protected_ids.add

    def protect(items, namespace):
        expanded = _with_handles(items)
        for item in expanded:
            keep(item)
            add_id(id(item))
        watch(namespace, expanded)

    return check, protect


def _with_handles(items):
    """Add the hypothesis handle and inner test of each hypothesis test to `items`."""
    expanded = list(items)
    for item in items:
        handle = getattr(item, "hypothesis", None)
        inner = getattr(handle, "inner_test", None)
        if handle is not None:
            expanded.append(handle)
        if inner is not None:
            expanded.append(inner)
    return expanded


class _Snapshot:
    def __init__(self, modules, bindings, builtin_items, protected, protected_ids, hooks):
        self.modules = modules
        self.bindings = bindings
        self.builtin_items = builtin_items
        self.protected = protected
        self.protected_ids = protected_ids
        self.hooks = hooks
        #: The records and the modules by name of those not watched in full, and the
        #: `sys.modules` keys of those that are: what a later snapshot may keep while
        #: the same modules are in place, and what it reads again.
        self.shared_bindings = ()
        self.shared_modules = {}
        self.full_names = ()


def _make_undumpable() -> None:
    """Forbid other processes of this user to read this one's memory (Linux only)."""
    if sys.platform != "linux":
        return
    set_dumpable = 4  # PR_SET_DUMPABLE from <linux/prctl.h>
    try:
        import ctypes

        ctypes.CDLL(None).prctl(set_dumpable, 0, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        # NOTE: without ctypes the memory of the harness stays readable by other
        # processes of its user, which only the container then keeps apart.
        return


def _hook_state():
    """Return the places where code can be scheduled to run between two checks."""
    import _thread
    import gc
    import signal

    handlers = ()
    valid_signals = getattr(signal, "valid_signals", None)
    if valid_signals is not None:
        handlers = tuple((number, signal.getsignal(number)) for number in valid_signals())
    count_threads = getattr(_thread, "_count", None)
    return {
        "gc_callbacks": (gc.callbacks, tuple(gc.callbacks)),
        "meta_path": (sys.meta_path, tuple(sys.meta_path)),
        "path_hooks": (sys.path_hooks, tuple(sys.path_hooks)),
        "signals": (signal.getsignal, handlers),
        "threads": (count_threads, count_threads() if count_threads else 0),
    }


_MONITORING_FUNCTIONS = (
    "use_tool_id",
    "free_tool_id",
    "get_tool",
    "register_callback",
    "get_events",
    "set_events",
    "get_local_events",
    "set_local_events",
    "restart_events",
)

#: Modules whose every binding is watched, not only functions, classes and modules:
#: the harness and this guard read constants the candidate must not change.
_FULLY_WATCHED = ("__main__", __name__)


def _take_snapshot(early=None) -> _Snapshot:
    """Record the watched bindings of every module, and the builtins and hooks.

    With an `early` snapshot whose modules are all still in `sys.modules` as the same
    objects, its records are kept, and only the modules imported since and those
    watched in full are read again. Only trusted code may have run since `early` was
    taken, and `early` is used up: its lists are extended in place.
    """
    modules = dict(sys.modules)
    if early is not None and _same_modules(early.shared_modules, modules):
        bindings = list(early.shared_bindings)
        protected, protected_ids = early.protected, early.protected_ids
        fresh = sorted(modules.keys() - early.modules.keys())
        names = [*fresh, *(name for name in early.full_names if name in modules)]
    else:
        bindings, protected, protected_ids = [], [], set()
        names = list(modules)
    shared, full_names, shared_modules = [], [], {}
    for name in names:
        module = modules[name]
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        every_binding = getattr(module, "__name__", None) in _FULLY_WATCHED
        watched = []
        for key, value in list(namespace.items()):
            if every_binding or isinstance(value, (type, type(sys))) or callable(value):
                watched.append((key, value))
                if isinstance(value, type) or hasattr(value, "__code__"):
                    protected.append(value)
                    protected_ids.add(id(value))
        record = (namespace, tuple(watched))
        bindings.append(record)
        if every_binding:
            full_names.append(name)
        else:
            shared.append(record)
            shared_modules[name] = module
    builtin_items = tuple(vars(builtins).items())
    hooks = _hook_state()
    snapshot = _Snapshot(
        modules, tuple(bindings), builtin_items, protected, protected_ids, hooks
    )
    snapshot.shared_bindings = tuple(shared)
    snapshot.shared_modules = shared_modules
    snapshot.full_names = tuple(full_names)
    return snapshot


def _same_modules(then: dict, now: dict) -> bool:
    """Return whether every module of `then` is in `now` as the same object.

    `map` does the lookups and identity tests in C, without a Python frame per module.
    """
    return all(map(operator.is_, map(now.get, then), then.values()))


def _make_hook_check(hooks, is_candidate):
    """Return a function that names a hook the candidate added, or returns None."""
    callbacks, initial_callbacks = hooks["gc_callbacks"]
    meta_path, initial_meta_path = hooks["meta_path"]
    path_hooks, initial_path_hooks = hooks["path_hooks"]
    get_signal, handlers = hooks["signals"]
    count_threads, initial_threads = hooks["threads"]
    live_sys = sys
    to_tuple, to_type, function_type = builtins.tuple, builtins.type, types.FunctionType

    length, any_of = builtins.len, builtins.any

    def same_items(items, initial):
        # Identity only: an object of the candidate could define __eq__.
        items = to_tuple(items)
        if length(items) != length(initial):
            return False
        return not any_of(item is not old for item, old in zip(items, initial))

    def check_hooks():
        if live_sys.meta_path is not meta_path or not same_items(meta_path, initial_meta_path):
            return "sys.meta_path was changed"
        if live_sys.path_hooks is not path_hooks or not same_items(path_hooks, initial_path_hooks):
            return "sys.path_hooks was changed"
        for callback in to_tuple(callbacks):
            if any_of(callback is old for old in initial_callbacks):
                continue
            # hypothesis adds a gc callback of its own to time garbage collection.
            if to_type(callback) is not function_type or is_candidate(callback.__code__):
                return "the candidate added a gc callback"
        for number, handler in handlers:
            if get_signal(number) is not handler:
                return "the handler of signal " + str(number) + " was changed"
        if count_threads is not None and count_threads() > initial_threads:
            return "the candidate started a thread that is still running"
        return None

    return check_hooks


def _make_check(snapshot: _Snapshot, is_candidate):
    modules = snapshot.modules
    bindings = snapshot.bindings
    builtin_items = snapshot.builtin_items
    builtin_namespace = vars(builtins)
    live_modules = sys.modules
    missing = object()
    dict_get = dict.get
    read_attribute, is_instance = builtins.getattr, builtins.isinstance
    watched_namespaces = []
    watched_attributes = []
    # The active hypothesis settings live in an attribute of an ordinary object,
    # which no audit event guards.
    settings_holder = sys.modules["hypothesis._settings"].default_variable
    active_settings = settings_holder.value
    monitoring = getattr(sys, "monitoring", None)
    monitoring_names = _MONITORING_FUNCTIONS

    module_type, is_callable = type(sys), builtins.callable
    check_hooks = _make_hook_check(snapshot.hooks, is_candidate)
    # With dict versions at hand, a namespace whose version has not moved since its
    # bindings were last verified is skipped. Comparing every binding of every
    # module cost about 19 million WebAssembly instructions per check.
    version_of = _dict_version_reader()
    namespaces = [live_modules, builtin_namespace]
    namespaces.extend(namespace for namespace, _ in bindings)
    verified = [version_of(n) for n in namespaces] if version_of is not None else None
    list_of, map_of = builtins.list, builtins.map

    def watch(namespace, items):
        bound = [
            (name, value)
            for name, value in namespace.items()
            if is_instance(value, (type, module_type)) or is_callable(value)
        ]
        watched_namespaces.append((namespace, tuple(bound)))
        for item in items:
            for name in ("__code__", "hypothesis", "inner_test"):
                value = read_attribute(item, name, missing)
                if value is not missing:
                    watched_attributes.append((item, name, value))

    def check():
        if read_attribute(settings_holder, "value", missing) is not active_settings:
            return "the active hypothesis settings were replaced"
        for name in monitoring_names:
            if read_attribute(monitoring, name, missing) is not missing:
                return "sys.monitoring." + name + " was restored"
        if verified is not None and list_of(map_of(version_of, namespaces)) == verified:
            return check_watched()
        version = None
        if verified is None or version_of(live_modules) != verified[0]:
            version = version_of(live_modules) if verified is not None else None
            for name, module in modules.items():
                if dict_get(live_modules, name, missing) is not module:
                    return "the module " + name + " was replaced in sys.modules"
            if verified is not None:
                verified[0] = version
        if verified is None or version_of(builtin_namespace) != verified[1]:
            version = version_of(builtin_namespace) if verified is not None else None
            for name, value in builtin_items:
                if dict_get(builtin_namespace, name, missing) is not value:
                    return "the builtin " + name + " was rebound"
            if verified is not None:
                verified[1] = version
        for index, (namespace, watched) in enumerate(bindings, 2):
            if verified is not None:
                # Read before comparing, so that a change made during the loop
                # leaves a version that differs at the next check.
                version = version_of(namespace)
                if version == verified[index]:
                    continue
            for name, value in watched:
                if dict_get(namespace, name, missing) is not value:
                    owner = dict_get(namespace, "__name__", "?")
                    return "the name " + str(owner) + "." + name + " was rebound"
            if verified is not None:
                verified[index] = version
        return check_watched()

    def check_watched():
        for namespace, items in watched_namespaces:
            for name, value in items:
                if dict_get(namespace, name, missing) is not value:
                    return "the suite's name " + name + " was rebound"
        for item, name, value in watched_attributes:
            if read_attribute(item, name, missing) is not value:
                return "the attribute " + name + " of a suite function was replaced"
        return check_hooks()

    return check, watch


def _dict_version_reader():
    """Return CPython's reader of a dict's version tag, or None where it is missing.

    CPython 3.11 and 3.12 give every dict a version tag that changes whenever the
    dict is modified, and no code can set it back, so an unchanged tag means
    unchanged contents. Only the test module `_testcapi` reads
    it. The WebAssembly build has that module built in, while some native builds
    leave it out, and then every check compares every binding. The module is taken
    out of `sys.modules` again, so that candidate code must import it anew, which
    the audit hook denies.
    """
    if not _version_reader:
        already = "_testcapi" in sys.modules
        try:
            import _testcapi
        except ImportError:
            _testcapi = None
        _version_reader.append(getattr(_testcapi, "dict_get_version", None))
        if not already:
            sys.modules.pop("_testcapi", None)
    return _version_reader[0]


#: The state `arm` made, kept until the process ends, because the harness ends its
#: process without the interpreter's teardown anyway. Freeing the snapshot when `main`
#: returned would touch every object it records: about 10 million WebAssembly
#: instructions, and in a forked warm guest a copy of most pages of the heap.
_armed = []
#: The reader `_dict_version_reader` found, once it has looked.
_version_reader = []


def _install_hook(candidate_path: str, protected_ids) -> None:
    get_frame = sys._getframe
    introspection = _INTROSPECTION_EVENTS
    frame_attributes = _FRAME_ATTRIBUTES
    write_only, read_write = os.O_WRONLY, os.O_RDWR
    changing = os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def opens_for_writing(flags):
        # On WASI O_RDWR is O_RDONLY | O_WRONLY, and O_RDONLY is not 0, so test whole
        # access modes rather than any overlapping bit.
        if flags & changing:
            return True
        return flags & write_only == write_only or flags & read_write == read_write
    loader_types = _standard_loader_types()
    is_instance, to_id, to_type = builtins.isinstance, builtins.id, builtins.type
    has_attribute, any_of, length = builtins.hasattr, builtins.any, builtins.len
    to_str = builtins.str
    read_vars, callable_ = builtins.vars, builtins.callable
    ctypes_prefix = _CTYPES_PREFIX
    test_modules = _TEST_MODULES
    real_path, base_name, decode_path = os.path.realpath, os.path.basename, os.fsdecode
    denied = PermissionError
    busy = [False]

    # Code executed while candidate code is on the stack counts as the candidate's:
    # a library such as typing may compile text the candidate chose under a file
    # name of its own. `tainted_codes` keeps those code objects alive, so ids stay
    # unique.
    tainted_ids = set()
    tainted_codes = []
    code_type = types.CodeType
    generators = _code_generators()

    def is_candidate(code):
        return code.co_filename == candidate_path or to_id(code) in tainted_ids

    def taint(code):
        pending = [code]
        while pending:
            current = pending.pop()
            if to_id(current) in tainted_ids:
                continue
            tainted_ids.add(to_id(current))
            tainted_codes.append(current)
            pending.extend(c for c in current.co_consts if is_instance(c, code_type))

    def candidate_frames(frame):
        """Return the frames from `frame` up to the innermost candidate frame."""
        chain = []
        while frame is not None:
            chain.append(frame)
            if is_candidate(frame.f_code):
                return chain
            frame = frame.f_back
        return None

    def foreign_loader(chain):
        # Code that the candidate's own loader class feeds to importlib would run
        # under a file name of its choosing, so only the standard loaders may exec.
        for frame in chain:
            for name in ("self", "loader"):
                value = frame.f_locals.get(name)
                kind = to_type(value)
                if not has_attribute(kind, "exec_module"):
                    continue
                if kind not in loader_types:
                    return True
                # A standard loader whose instance carries its own methods is not.
                own = read_vars(value) if has_attribute(value, "__dict__") else {}
                if any_of(callable_(item) for item in own.values()):
                    return True
        return False

    def reads_process_memory(path):
        # A process's memory is in /proc/<pid>/mem; a relative path may be opened
        # against a folder descriptor this hook does not see, so the name alone
        # counts there.
        if not is_instance(path, (str, bytes)):
            return False
        path = decode_path(path)
        return real_path(path).startswith("/proc/") or base_name(path) == "mem"

    def must_deny(event, arguments):
        if event in ("compile", "exec"):
            chain = candidate_frames(get_frame(2))
            if chain is None:
                return False
            if length(chain) == 1 or foreign_loader(chain):
                return True
            importing = any_of(
                to_type(frame.f_locals.get("self")) in loader_types for frame in chain
            )
            if event == "compile":
                # Only imports and code generators that build their text from
                # checked names may compile under a candidate: other compiled code
                # could be handed back to it unexecuted, outside the taint below.
                return not importing and get_frame(2).f_code not in generators
            if not importing and is_instance(arguments[0], code_type):
                taint(arguments[0])
            return False
        if event in introspection or event.startswith(ctypes_prefix):
            sensitive = True
        elif event == "import":
            sensitive = arguments[0] in test_modules
        elif event == "object.__getattr__":
            sensitive = arguments[1] in frame_attributes
        elif event in ("object.__setattr__", "object.__delattr__"):
            sensitive = to_id(arguments[0]) in protected_ids
        elif event == "open":
            path, mode, flags = arguments
            if is_instance(mode, str):
                sensitive = any_of(c in mode for c in "wax+")
            else:
                sensitive = is_instance(flags, int) and opens_for_writing(flags)
            sensitive = sensitive or reads_process_memory(path)
        else:
            return False
        return sensitive and candidate_frames(get_frame(2)) is not None

    def hook(event, arguments):
        if busy[0]:
            return
        busy[0] = True
        try:
            deny = must_deny(event, arguments)
            if deny and event.startswith("object."):
                event = event + " of " + to_str(arguments[1])
        finally:
            busy[0] = False
        if deny:
            raise denied("the evolver sandbox does not allow " + event + " in a candidate")

    sys.addaudithook(hook)
    return is_candidate


def _code_generators() -> frozenset:
    import collections
    import dataclasses

    functions = [collections.namedtuple, getattr(dataclasses, "_create_fn", None)]
    return frozenset(f.__code__ for f in functions if hasattr(f, "__code__"))


def _standard_loader_types() -> frozenset:
    import importlib.machinery
    import zipimport

    machinery = importlib.machinery
    return frozenset(
        {
            machinery.SourceFileLoader,
            machinery.SourcelessFileLoader,
            machinery.ExtensionFileLoader,
            machinery.BuiltinImporter,
            machinery.FrozenImporter,
            zipimport.zipimporter,
        }
    )
