"""Kernel launcher for autograding: resource limits, an OS sandbox where the platform has one,
and an in-process guard against submissions that reach for the hidden checks or tamper with
the grader.

:class:`dlcourse_staff.nbgrader_ext.SandboxKernelManager` starts every grading kernel as ::

    python sandbox.py POLICY.json -- -m ipykernel_launcher -f CONNECTION.json ...

and reads what the guard reports from the log file named in the policy. This file is run as a
script and uses the standard library only: importing the dlcourse package here would load
instructor code into the student's kernel before the first cell.

Layers, outermost first:

1. **Limits** (``resource``): data segment (a memory bomb gets ``MemoryError``), CPU seconds
   (a backstop behind the grader's wall-clock limit), file size, no core files; the kernel
   dies with its parent (``PR_SET_PDEATHSIG``), so no kernel outlives the grader.
2. **Landlock** (Linux ≥ 5.13, unprivileged): the kernel process and its children may write
   only inside the submission folder, a private temporary folder and the data cache; TCP
   connections are refused (ABI ≥ 4) and signals cannot reach processes outside the sandbox
   (ABI ≥ 6). Where Landlock is missing the guard below still applies.
3. **Guard** (``sys.addaudithook``): every frame is attributed to a *trusted* cell (a locked
   cell whose text is the instructor's, restored by nbgrader), to the hidden-check package, to
   an installed library, or to the *student* (any other cell, code made from strings, files in
   the submission). Student code may not import or read ``dlcourse_staff`` or the instructor's
   notebooks, read or write the gradebook or other students' work, write outside its folder,
   start processes, signal other processes, open network connections, use ``ctypes`` or the
   garbage collector's object lists, install trace or audit hooks, or forge the origin of
   code. Between cells the guard compares the functions and classes of ``builtins``,
   ``torch``, ``numpy``, ``dlcourse``, the import system and the kernel itself with a
   snapshot, restores anything a cell replaced and reports it; it drops ``dlcourse_staff``
   from ``sys.modules`` and the notebook's namespace after the cell that used it (no stale or
   fake checks), and restores the grading environment variables before every trusted cell.

What the guard reports is a JSON line per event in the log. It runs inside the student's
process, so it stops the attacks of the adversarial bank (``tests/adversarial/``) and their
obvious variants, not an attacker who rewrites interpreter memory: the hidden checks must still
never trust the student's objects.
"""
from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__" and sys.path and \
        os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    # Python put this file's folder (the instructor package) on sys.path: take it off before
    # anything can import from it as top-level modules.
    del sys.path[0]

import linecache  # noqa: E402
import operator  # noqa: E402
import threading  # noqa: E402
import types  # noqa: E402

STUDENT, TRUSTED, STAFF, LIBRARY, MACHINE = "student", "trusted", "staff", "library", "machine"
STAFF_MODULE = "dlcourse_staff"
DEBUG = bool(os.environ.get("DLCOURSE_GUARD_DEBUG"))
_SELF = os.path.realpath(os.path.abspath(__file__))
from time import perf_counter as _clock  # noqa: E402

# Audit events that give a cell powers no exercise needs.
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "pty.spawn", "os.startfile"}
INTROSPECTION_EVENTS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook",
                        "sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile",
                        "sys._current_frames", "sys._current_exceptions"}
NETWORK_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"}
CTYPES_EVENTS = {"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.cdata/buffer",
                 "ctypes.call_function", "ctypes.addressof", "ctypes.string_at", "ctypes.wstring_at",
                 "ctypes.PyObj_FromPtr", "ctypes.create_string_buffer", "ctypes.create_unicode_buffer",
                 "ctypes.set_errno", "ctypes.set_exception"}
# Filesystem events whose path arguments must stay inside the writable folders: event → indices.
FS_WRITE_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (0, 1),
    "os.symlink": (1,), "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,),
    "os.chflags": (0,), "os.lchflags": (0,), "os.lchown": (0,), "os.lchmod": (0,), "os.mkfifo": (0,),
    "os.mknod": (0,), "os.setxattr": (0,), "os.removexattr": (0,), "shutil.rmtree": (0,),
    "shutil.copyfile": (1,), "shutil.copymode": (1,), "shutil.copystat": (1,), "shutil.move": (1,),
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Everything the guard looks at; other events (builtins.id, object.__getattr__, …) return at once.
RELEVANT = frozenset({"exec", "import", "open", "sqlite3.connect", "compile", "code.__new__", "os.kill",
                      "os.killpg", "signal.pthread_kill"} | PROCESS_EVENTS | INTROSPECTION_EVENTS | NETWORK_EVENTS
                     | CTYPES_EVENTS | set(FS_WRITE_EVENTS))
# The grader's empty statement between cells (GuardedExecute._probe).
PROBE = "pass  # "

# Modules whose functions and classes a submission must not replace: the checks, the tensors
# they compare, the import system and the kernel that reports the result.
PROTECTED_ROOTS = frozenset({
    "builtins", "torch", "numpy", "math", "operator", "functools", "copy", "contextlib", "dlcourse",
    "IPython", "ipykernel", "jupyter_client", "zmq", "traitlets", "importlib", "linecache",
    "traceback", "inspect", "types", "json",
})

# Parts of those packages that no check reaches (compilers, export, distributed, devices):
# watching them would only cost time between cells.
UNWATCHED = tuple(f"torch.{p}" for p in (
    "_dynamo", "_inductor", "fx", "distributed", "onnx", "export", "_export", "_higher_order_ops", "ao",
    "quantization", "package", "_functorch", "jit", "cuda", "mps", "xpu", "mtia", "_prims", "_refs", "_decomp",
    "profiler", "_library", "_subclasses", "_logging", "utils.data", "utils._sympy", "_strobelight", "_lazy",
    "masked", "nested", "sparse", "backends", "_vmap_internals", "compiler", "_guards", "accelerator",
    "_numpy", "distributions", "_C._distributed", "testing._internal")) + ("numpy.distutils", "numpy.f2py")

# Attribute access that runs no code of the objects' own classes (a student's class may define
# __getattribute__, properties or a metaclass; the guard must never call into it).
_TYPE_DICT = type.__dict__["__dict__"].__get__
_TYPE_MRO = type.__dict__["__mro__"].__get__


def _obj_dict(obj) -> dict:
    try:
        return object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return {}


# --------------------------------------------------------------------------------------------
# limits and the OS sandbox
# --------------------------------------------------------------------------------------------
def apply_limits(policy: dict) -> list[str]:
    notes = []
    try:
        import resource
    except ImportError:  # not POSIX
        return ["resource limits unavailable on this platform"]

    def setlimit(which, soft, hard=None):
        hard = soft if hard is None else hard
        try:
            _, cur_hard = resource.getrlimit(which)
            if cur_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, cur_hard), min(hard, cur_hard)
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as err:
            notes.append(f"rlimit {which}: {err}")

    if policy.get("memory_bytes"):
        # RLIMIT_DATA counts what a memory bomb allocates (heap and private anonymous maps) but
        # not the gigabytes of shared libraries and reservations that importing torch maps, as
        # RLIMIT_AS would. macOS enforces neither; there the wall-clock limit remains.
        which = getattr(resource, "RLIMIT_DATA", None) if sys.platform.startswith("linux") else None
        setlimit(resource.RLIMIT_AS if which is None else which, int(policy["memory_bytes"]))
    if policy.get("cpu_seconds"):
        cpu = int(policy["cpu_seconds"])
        setlimit(resource.RLIMIT_CPU, cpu, cpu + 10)
    if policy.get("file_bytes"):
        setlimit(resource.RLIMIT_FSIZE, int(policy["file_bytes"]))
    setlimit(resource.RLIMIT_CORE, 0)
    return notes


def die_with_parent() -> None:
    """SIGKILL this process when the grader that started it dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def landlock(write_dirs: list[str], write_files: list[str]) -> str:
    """Limit writes (and TCP connections, signals to outside) with Landlock; say what was done."""
    if not sys.platform.startswith("linux"):
        return "landlock: not Linux"
    import ctypes
    import platform

    if platform.machine() not in ("x86_64", "aarch64"):
        return f"landlock: unsupported machine {platform.machine()}"
    libc = ctypes.CDLL(None, use_errno=True)
    sys_create, sys_add, sys_restrict = 444, 445, 446  # same numbers on x86_64 and aarch64
    abi = libc.syscall(sys_create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # ..._VERSION
    if abi < 1:
        return f"landlock: unavailable ({os.strerror(ctypes.get_errno())})"
    write_file = 1 << 1
    handled = write_file
    for bit in range(4, 13):  # REMOVE_DIR, REMOVE_FILE, MAKE_CHAR/DIR/REG/SOCK/FIFO/BLOCK/SYM
        handled |= 1 << bit
    if abi >= 2:
        handled |= 1 << 13  # REFER
    if abi >= 3:
        handled |= 1 << 14  # TRUNCATE
    file_rights = write_file | (1 << 14 if abi >= 3 else 0)

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    # CONNECT_TCP with no rule: no TCP connection at all; scoped: signals and abstract sockets
    attr = Ruleset(handled, 2 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset = libc.syscall(sys_create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"landlock: create_ruleset failed ({os.strerror(ctypes.get_errno())})"
    try:
        for path, rights in [(d, handled) for d in write_dirs] + [(f, file_rights) for f in write_files]:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = PathBeneath(rights if os.path.isdir(path) else file_rights, fd)
                if libc.syscall(sys_add, ruleset, 1, ctypes.byref(rule), 0) != 0:  # PATH_BENEATH
                    return f"landlock: add_rule {path} failed ({os.strerror(ctypes.get_errno())})"
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return f"landlock: no_new_privs failed ({os.strerror(ctypes.get_errno())})"
        if libc.syscall(sys_restrict, ruleset, 0) != 0:
            return f"landlock: restrict_self failed ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    return (f"landlock ABI {abi}: writes limited to {len(write_dirs)} folders"
            + (", TCP connect refused" if abi >= 4 else "") + (", signals scoped" if abi >= 6 else ""))


# --------------------------------------------------------------------------------------------
# the guard
# --------------------------------------------------------------------------------------------
def _real(path) -> str | None:
    """Real path of a str/bytes path; None for anything else (never calls __fspath__)."""
    if type(path) not in (str, bytes):
        return None
    try:
        return os.path.realpath(os.path.abspath(os.fsdecode(path)))
    except (TypeError, ValueError, OSError):
        return None


def _under(path: str | None, roots) -> bool:
    return path is not None and any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _show(value) -> str:
    """A safe description of an audit argument: no repr() of the student's objects."""
    if type(value) in (str, bytes, int, float, bool) or value is None:
        return repr(value)[:200]
    if type(value) is tuple:
        return "(" + ", ".join(_show(v) for v in value[:4]) + ")"
    return f"<{type(value).__name__}>"


class _Blocked(PermissionError):
    """Raised into the student's code for an operation the guard refuses."""


class Guard:
    """The audit hook and the between-cells integrity check. See the module docstring."""

    def __init__(self, policy: dict, log_fd: int):
        self.log_fd = log_fd
        self.raw_trusted = list(policy.get("trusted", []))
        self.trusted_sources = {_normal(s) for s in self.raw_trusted}
        self.staff_dir = _real(policy["staff_dir"]) if policy.get("staff_dir") else None
        self.staff_prefix = (self.staff_dir.rstrip(os.sep) + os.sep) if self.staff_dir else None
        self.write_roots = [r for r in (_real(p) for p in policy.get("write_roots", [])) if r]
        # single files any code may write (os.devnull: libraries silence output through it)
        self.write_files = {r for r in (_real(p) for p in policy.get("write_files", ["/dev/null"])) if r}
        # Folders a cell may neither read nor write: (real path, what it is), e.g. the hidden
        # checks ("reference"), other students' work, the gradebook; read_ok wins (own folder).
        self.secrets = [(r, what) for r, what in ((_real(p), what) for p, what in policy.get("secrets", [])) if r]
        self.read_ok = [r for r in (_real(p) for p in policy.get("read_ok", [])) if r]
        self.env = dict(policy.get("env", {}))
        lib_roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
        lib_roots |= {p for p in sys.path if p and os.path.isdir(p) and "-packages" in p}
        lib_roots |= set(policy.get("library_roots", []))
        self.lib_roots = sorted({r for r in (_real(p) for p in lib_roots) if r})
        self.cell_dir: str | None = None
        self.kinds: dict[str, str] = {}
        self.busy: set[int] = set()
        self.armed = False
        self.kernel_threads: set[int] = set()
        self.current: str | None = None
        self.current_trusted = False
        self.current_probe = False
        self.snapshot: _Snapshot | None = None
        self.pid = os.getpid()
        self.spent: dict[str, float] = {}

    # --- reporting -----------------------------------------------------------------------
    def emit(self, **record) -> None:
        try:
            os.write(self.log_fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())
        except OSError:
            pass

    def violation(self, what: str, detail: str, *, penalty: bool):
        self.emit(k="violation" if penalty else "flag", what=what, detail=detail[:500], when="during")
        raise _Blocked(f"채점 중에는 허용되지 않는 동작입니다 (blocked while grading): {what}")

    # --- attribution -----------------------------------------------------------------------
    def classify(self, filename: str) -> str:
        kind = self.kinds.get(filename)
        if kind is not None:
            return kind
        if self.cell_dir and filename.startswith(self.cell_dir):
            kind = TRUSTED if self._cell_text(filename) in self.trusted_sources else STUDENT
        elif filename.startswith("<frozen ") or filename == _SELF:
            kind = LIBRARY  # this launcher sits at the bottom of every stack of the kernel
        else:
            real = _real(filename)
            if self.staff_dir and _under(real, [self.staff_dir]):
                kind = STAFF
            elif real and os.path.isfile(real) and _under(real, self.lib_roots):
                kind = LIBRARY
            else:
                kind = STUDENT  # code made from strings, files the submission wrote, …
        self.kinds[filename] = kind
        return kind

    @staticmethod
    def _cell_text(filename: str) -> str:
        entry = linecache.cache.get(filename)
        return _normal("".join(entry[2])) if entry and len(entry) > 2 else ""

    def context(self, frame) -> str:
        """Who acts: any student frame on the stack makes it the student's act (a trusted cell's
        code run from a student cell, or a hidden check's code called back by student code);
        otherwise a trusted cell or the hidden checks; otherwise the kernel itself, unless this
        is a thread that a cell started."""
        found = MACHINE
        while frame is not None:
            kind = self.classify(frame.f_code.co_filename)
            if kind == STUDENT:
                return STUDENT
            if kind != LIBRARY:
                found = kind
            frame = frame.f_back
        if found == MACHINE and self.armed and threading.get_ident() not in self.kernel_threads:
            return STUDENT
        return found

    def made_by_student(self, value, depth: int = 0) -> bool:
        """Whether ``value`` (a function, method, class, module or callable object) comes from
        the student's code — found from where its code was compiled, running none of it."""
        cls = type(value)
        if depth > 4:
            return True
        if cls is types.FunctionType:
            return self.classify(value.__code__.co_filename) == STUDENT
        if cls is types.MethodType:
            return self.made_by_student(value.__func__, depth + 1)
        if cls in (types.BuiltinFunctionType, types.MethodWrapperType):
            # a C function of a module or class is the library's; one bound to a plain object
            # (``"".format``: accepts anything, returns quietly) is a student's contraption
            owner = value.__self__
            return not (owner is None or type(owner) is types.ModuleType or issubclass(type(owner), type))
        if cls in (types.MethodDescriptorType, types.WrapperDescriptorType, types.GetSetDescriptorType,
                   types.MemberDescriptorType, types.ClassMethodDescriptorType) or value is None:
            return False
        if cls is types.ModuleType:
            spec_file = _obj_dict(value).get("__file__")
            return not (type(spec_file) is str and self.classify(spec_file) in (LIBRARY, STAFF))
        if cls in (staticmethod, classmethod):
            return self.made_by_student(value.__func__, depth + 1)
        if cls is property:
            return any(self.made_by_student(f, depth + 1) for f in (value.fget, value.fset, value.fdel) if f)
        if cls.__module__ == "functools" and cls.__name__ == "partial":
            return self.made_by_student(value.func, depth + 1)
        target = value if issubclass(cls, type) else cls
        module = _TYPE_DICT(target).get("__module__")
        if module == "__main__" or type(module) is not str:
            return True
        for k in _TYPE_MRO(target):
            for attr in _TYPE_DICT(k).values():
                if type(attr) is types.FunctionType and self.classify(attr.__code__.co_filename) == STUDENT:
                    return True
        return False

    def secret(self, real: str | None) -> str | None:
        if real is None or real == _SELF or _under(real, self.read_ok):
            return None  # (this launcher is in every stack: tracebacks and inspect.stack() read it)
        if self.staff_dir and _under(real, [self.staff_dir]):
            return "reference"
        for root, what in self.secrets:
            if _under(real, [root]):
                return what
        return None

    # --- the hook ------------------------------------------------------------------------------
    def hook(self, event: str, args: tuple) -> None:
        if event not in RELEVANT:
            return
        tid = threading.get_ident()
        if tid in self.busy:
            return
        self.busy.add(tid)
        t0 = _clock() if DEBUG else 0.0
        try:
            self._dispatch(event, args)
        except _Blocked:
            raise
        except Exception as err:  # noqa: BLE001 - a bug here must not break the student's cell
            self.emit(k="info", detail=f"guard error on {event}: {type(err).__name__}: {err}"[:300])
        finally:
            if DEBUG:
                self.spent[event] = self.spent.get(event, 0.0) + _clock() - t0
            self.busy.discard(tid)

    def _dispatch(self, event: str, args: tuple) -> None:
        # frames: 0 _dispatch, 1 hook, 2 the code that raised the event
        if event == "exec":
            filename = getattr(args[0], "co_filename", "") if args and type(args[0]) is types.CodeType else ""
            if self.cell_dir is None and os.path.basename(os.path.dirname(filename)) == f"ipykernel_{self.pid}":
                self.cell_dir = os.path.dirname(filename) + os.sep
            if self.cell_dir and filename.startswith(self.cell_dir):
                if filename != self.current and self.context(sys._getframe(2)) == MACHINE:
                    self.boundary(filename)
            elif self.armed and self.staff_prefix and filename.startswith(self.staff_prefix):
                if self.context(sys._getframe(2)) == STUDENT:
                    self.violation("reference", f"exec of {filename}", penalty=True)
            return
        if not self.armed:
            return
        if event == "import":
            name = args[0] if args else ""
            if type(name) is str and (name == STAFF_MODULE or name.startswith(STAFF_MODULE + ".")):
                if self.context(sys._getframe(2)) == STUDENT:
                    self.violation("reference", f"import {name}", penalty=True)
        elif event == "open":
            self._check_open(args)
        elif event in FS_WRITE_EVENTS:
            self._check_paths(event, [args[i] for i in FS_WRITE_EVENTS[event] if i < len(args)])
        elif event == "sqlite3.connect":
            db = args[0] if args else None
            if _safe_pathlike(db):
                db = os.fspath(db)
            if type(db) in (str, bytes) and os.fsdecode(db) not in (":memory:", ""):
                self._check_paths(event, [db], writing=False)
            elif type(db) not in (str, bytes) and self.context(sys._getframe(2)) == STUDENT:
                self.violation("write-outside", f"sqlite3.connect({_show(db)})", penalty=False)
        elif event in ("compile", "code.__new__"):
            filename = args[1] if len(args) > 1 else None
            if type(filename) in (str, bytes) and self._forged(os.fsdecode(filename)):
                if self.context(sys._getframe(2)) == STUDENT:
                    self.violation("tampering", f"{event}: code claiming to come from {os.fsdecode(filename)}",
                                   penalty=True)
        elif event in PROCESS_EVENTS:
            if self.context(sys._getframe(2)) == STUDENT:
                self.violation("process", f"{event} {_show(tuple(args[:2]))}", penalty=False)
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            pid = args[0] if args else None
            if event != "os.kill" or pid not in (self.pid, 0):
                if self.context(sys._getframe(2)) == STUDENT:
                    self.violation("signal", f"{event}{_show(tuple(args))}", penalty=False)
        elif event in NETWORK_EVENTS:
            if self.context(sys._getframe(2)) == STUDENT:
                self.violation("network", f"{event} {_show(tuple(args[1:2]))}", penalty=False)
        elif event in INTROSPECTION_EVENTS or event in CTYPES_EVENTS:
            if self.context(sys._getframe(2)) == STUDENT:
                self.violation("tampering", event, penalty=True)

    def _forged(self, filename: str) -> bool:
        """Would code compiled under this name pass for a cell, the hidden checks or a library?"""
        if self.cell_dir and filename.startswith(self.cell_dir):
            return True
        return self.classify(filename) in (STAFF, LIBRARY)

    def _check_open(self, args: tuple) -> None:
        path = args[0] if args else None
        if path is None or type(path) is int:
            return
        if type(path) not in (str, bytes):
            # a path-like object of the student's own class: asking for its path would run its
            # code inside the guard, so a student cell may not open one at all
            if self.context(sys._getframe(3)) == STUDENT and not _safe_pathlike(path):
                self.violation("tampering", f"open({_show(path)})", penalty=False)
            path = os.fspath(path) if _safe_pathlike(path) else None
            if path is None:
                return
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        writing = (type(mode) is str and any(c in mode for c in "wax+")) or \
                  (type(flags) is int and bool(flags & WRITE_FLAGS))
        self._check_paths("open", [path], writing=writing, depth=4)

    def _check_paths(self, event: str, paths: list, *, writing: bool = True, depth: int = 3) -> None:
        reals = [_real(p) for p in paths]
        secrets = [w for w in map(self.secret, reals) if w]
        if secrets and not writing and all(r in self._files_on_stack(sys._getframe(depth)) for r in reals):
            # the source of code that is running right now, read for a stack trace: the hidden
            # check called the student's function, which called e.g. torch.manual_seed, which
            # records traceback.format_stack(). Reading it gives nothing the stack does not hold.
            secrets = []
        outside = writing and any(r is not None and r not in self.write_files and not _under(r, self.write_roots)
                                  for r in reals)
        procs = [r for r in reals if r and r.startswith("/proc/") and r.split(os.sep)[2].isdigit()
                 and r.split(os.sep)[2] != str(self.pid)]
        unknown = writing and any(r is None for r in reals)
        if not (secrets or outside or procs or unknown):
            return
        if self.context(sys._getframe(depth)) != STUDENT:
            return
        shown = ", ".join(r or _show(p) for r, p in zip(reals, paths))
        if secrets:
            self.violation(secrets[0], f"{event} {shown}" + (" (write)" if writing else ""), penalty=True)
        if procs:
            self.violation("process", f"{event} {shown}", penalty=False)
        self.violation("write-outside", f"{event} {shown}", penalty=False)

    @staticmethod
    def _files_on_stack(frame) -> set:
        files = set()
        while frame is not None:
            files.add(_real(frame.f_code.co_filename))
            frame = frame.f_back
        return files

    # --- between cells ----------------------------------------------------------------------
    def boundary(self, filename: str) -> None:
        """A new cell starts: check what the previous cell left behind, then prepare this one."""
        if not self.armed:
            self.armed = True
            self.kernel_threads = {t.ident for t in threading.enumerate()}
            self.kernel_threads.add(threading.get_ident())
            shell = _shell()
            if shell is not None:  # IPython compiles the transformed text of a cell
                for source in self.raw_trusted:
                    try:
                        self.trusted_sources.add(_normal(shell.transform_cell(source)))
                    except Exception:  # noqa: BLE001 - a source IPython cannot transform stays raw
                        pass
        strict = not self.current_trusted  # a trusted cell may load modules that register things
        trusted = self.classify(filename) == TRUSTED
        # After the grader's probe nothing ran but the kernel: check again only before a trusted cell.
        check = self.snapshot is not None and (not self.current_probe or trusted)
        changed = self.snapshot.verify_and_restore(strict) if check else []
        leftovers = self.purge_staff()
        if leftovers and strict:
            changed.append("dlcourse_staff in sys.modules: " + ", ".join(leftovers[:3]))
        if changed:
            self.emit(k="violation", what="tampering", when="prev",
                      detail="채점 도구·라이브러리 함수를 바꾼 것을 되돌렸습니다: " + ", ".join(changed[:10])
                             + (f" 외 {len(changed) - 10}개" if len(changed) > 10 else ""))
        if trusted:
            self.restore_env()
        if self.snapshot is None:
            self.snapshot = _Snapshot(self.made_by_student)
        elif self.current_trusted:
            self.snapshot.extend()
        self.current, self.current_trusted = filename, trusted
        self.current_probe = self._cell_text(filename).startswith(PROBE)
        self.emit(k="cell", trusted=trusted, **({"spent": {k: round(v, 3) for k, v in self.spent.items() if v > 0.01}} if DEBUG else {}))

    def purge_staff(self) -> list[str]:
        """Forget the hidden checks after the cell that used them (and anything posing as them)."""
        names = [n for n in list(sys.modules) if n == STAFF_MODULE or n.startswith(STAFF_MODULE + ".")]
        for name in names:
            sys.modules.pop(name, None)
        pkg = sys.modules.get("dlcourse")
        if pkg is not None and "staff" in _obj_dict(pkg):
            _obj_dict(pkg).pop("staff", None)
        shell = _shell()
        namespace = _obj_dict(shell).get("user_ns") if shell is not None else None
        if type(namespace) is dict:
            for key, value in list(namespace.items()):
                if _staff_object(value):
                    namespace.pop(key, None)
        if self.staff_prefix:
            for key in [k for k in list(linecache.cache) if type(k) is str and k.startswith(self.staff_prefix)]:
                linecache.cache.pop(key, None)
        return names

    def restore_env(self) -> None:
        changed = []
        for key, value in self.env.items():
            if value is None:
                if key in os.environ:
                    changed.append(key)
                    del os.environ[key]
            elif os.environ.get(key) != value:
                changed.append(key)
                os.environ[key] = value
        if changed:
            self.emit(k="flag", what="environment", when="prev",
                      detail="채점용 환경 변수를 되돌렸습니다: " + ", ".join(changed))


def _safe_pathlike(obj) -> bool:
    """pathlib paths whose __fspath__ is the standard library's."""
    import pathlib

    cls = type(obj)
    return issubclass(cls, pathlib.PurePath) and all(
        "__fspath__" not in _TYPE_DICT(k) or k.__module__ == "pathlib" for k in _TYPE_MRO(cls))


def _staff_object(value) -> bool:
    """A module, function or class of the hidden-check package (checked without running code)."""
    cls = type(value)
    if cls is types.ModuleType:
        name = _obj_dict(value).get("__name__", "")
    elif cls is types.FunctionType:
        name = value.__module__
    elif issubclass(cls, type):
        name = _TYPE_DICT(value).get("__module__", "")
    else:
        return False
    return type(name) is str and (name == STAFF_MODULE or name.startswith(STAFF_MODULE + "."))


def _watched(value) -> bool:
    """Functions, classes, descriptors and modules (what a check calls); data may change."""
    cls = type(value)
    if cls is types.ModuleType or callable(value):
        return True
    return any("__get__" in _TYPE_DICT(k) for k in _TYPE_MRO(cls))


class _Watch:
    """The watched attributes of one module, class or kernel object, compared by identity."""

    __slots__ = ("owner", "label", "instance", "keys", "values", "getter", "size")

    def __init__(self, owner, label: str, instance: bool = False):
        self.owner, self.label, self.instance = owner, label, instance
        self.rebuild()

    def rebuild(self) -> None:
        ns = self.namespace()
        items = [(k, v) for k, v in list(ns.items())
                 if type(k) is str and (callable(v) if self.instance else _watched(v))]
        self.keys = tuple(k for k, _ in items)
        self.values = tuple(v for _, v in items)
        self.getter = operator.itemgetter(*self.keys) if len(self.keys) > 1 else None
        self.size = len(ns)

    def namespace(self):
        return _TYPE_DICT(self.owner) if issubclass(type(self.owner), type) else _obj_dict(self.owner)

    def _set(self, key, value) -> None:
        try:
            if value is _MISSING:
                (type.__delattr__ if issubclass(type(self.owner), type) else object.__delattr__)(self.owner, key)
            else:
                (type.__setattr__ if issubclass(type(self.owner), type) else object.__setattr__)(self.owner, key, value)
        except (AttributeError, TypeError):
            ns = self.namespace()
            if type(ns) is dict:
                if value is _MISSING:
                    ns.pop(key, None)
                else:
                    ns[key] = value

    def verify(self, strict: bool, made_by_student) -> list[str]:
        """Undo what student code replaced (or, after a student cell, deleted); take in what
        libraries and trusted cells changed. Returns what was undone."""
        ns = self.namespace()
        changed, accepted = [], False
        if self.keys:
            try:
                now = self.getter(ns) if self.getter else (ns[self.keys[0]],)
                same = all(map(operator.is_, now, self.values))
            except KeyError:
                same = False
            if not same:
                for key, value in zip(self.keys, self.values):
                    new = ns.get(key, _MISSING)
                    if new is value or _same_method(new, value):
                        continue
                    if (new is _MISSING and strict) or (new is not _MISSING and made_by_student(new)):
                        changed.append(f"{self.label}.{key}")
                        self._set(key, value)
                    else:
                        accepted = True
        if self.instance and len(ns) != self.size:
            keys = set(self.keys)
            for key, value in [(k, v) for k, v in list(ns.items()) if type(k) is str and callable(v) and k not in keys]:
                if made_by_student(value):
                    changed.append(f"{self.label}.{key}")
                    self._set(key, _MISSING)
                else:
                    accepted = True
        if accepted:
            self.rebuild()
        return changed


def _same_method(a, b) -> bool:
    """Bound methods are made anew at every attribute access: same function, same object."""
    return type(a) is types.MethodType and type(b) is types.MethodType and \
        a.__func__ is b.__func__ and a.__self__ is b.__self__


_MISSING = object()


class _Snapshot:
    """What the guard restores between cells: see :class:`Guard`."""

    def __init__(self, made_by_student):
        self.made_by_student = made_by_student
        self.watches: list[_Watch] = []
        self.modules: dict = {}
        self.classes: set[int] = set()
        self.lists: list = []
        self.extend()

    def extend(self) -> None:
        """Take in what trusted cells loaded since the last time (new modules and attributes)."""
        for watch in self.watches:
            if len(watch.namespace()) != watch.size:
                watch.rebuild()
        for name, mod in list(sys.modules.items()):
            if name in self.modules or type(mod) is not types.ModuleType or name.startswith(STAFF_MODULE) \
                    or name.split(".", 1)[0] not in PROTECTED_ROOTS or name.startswith(UNWATCHED):
                continue
            self.modules[name] = mod
            self.watches.append(_Watch(mod, name))
            for value in list(_obj_dict(mod).values()):
                if issubclass(type(value), type) and id(value) not in self.classes and \
                        _TYPE_DICT(value).get("__module__") == name:
                    self.classes.add(id(value))
                    self.watches.append(_Watch(value, f"{name}.{_TYPE_DICT(value).get('__qualname__', '?')}"))
        shell, instances = _kernel_objects()
        known = {id(w.owner) for w in self.watches if w.instance}
        for obj, label in instances:
            if id(obj) not in known:
                self.watches.append(_Watch(obj, label, instance=True))
        self.lists = [(sys.meta_path, "sys.meta_path", list(sys.meta_path)),
                      (sys.path_hooks, "sys.path_hooks", list(sys.path_hooks))]
        for name, mod in self.modules.items():
            path = _obj_dict(mod).get("__path__")
            if type(path) is list:
                self.lists.append((path, f"{name}.__path__", list(path)))
        if shell is not None:
            traits = _obj_dict(shell).get("_trait_values", {})
            for attr in ("ast_transformers", "input_transformers_cleanup", "input_transformers_post"):
                if type(traits.get(attr)) is list:
                    self.lists.append((traits[attr], f"shell.{attr}", list(traits[attr])))
            callbacks = _obj_dict(_obj_dict(shell).get("events") or object()).get("callbacks")
            if type(callbacks) is dict:
                for key, value in callbacks.items():
                    if type(value) is list:
                        self.lists.append((value, f"shell.events[{key}]", list(value)))
        self.importers = dict(sys.path_importer_cache)
        self.hooks = [sys.excepthook, sys.gettrace(), sys.getprofile()]

    def verify_and_restore(self, strict: bool) -> list[str]:
        student = self.made_by_student
        changed: list[str] = []
        for watch in self.watches:
            changed += watch.verify(strict, student)
        for i, (current, label, saved) in enumerate(self.lists):
            if len(current) == len(saved) and all(map(operator.is_, current, saved)):
                continue
            added = [x for x in current if not any(x is y for y in saved)]
            removed = [x for x in saved if not any(x is y for y in current)]
            bad = [x for x in added if student(x) or (type(x) is str and label.endswith("__path__"))]
            if bad or (removed and strict):
                changed.append(label)
                current[:] = [x for x in current if not any(x is y for y in bad)]
                if strict:
                    current[:] = saved + [x for x in current if not any(x is y for y in saved)]
            self.lists[i] = (current, label, list(current))
        for name, mod in self.modules.items():
            if sys.modules.get(name) is not mod:
                changed.append(f"sys.modules[{name!r}]")
                sys.modules[name] = mod
        cache = sys.path_importer_cache
        for key, value in list(self.importers.items()):
            if key in cache and cache[key] is not value:
                if student(cache[key]):
                    changed.append(f"sys.path_importer_cache[{key!r}]")
                    cache[key] = value
                else:
                    self.importers[key] = cache[key]
        hooks = [sys.excepthook, sys.gettrace(), sys.getprofile()]
        for i, (now, before, label) in enumerate(zip(hooks, self.hooks, ("sys.excepthook", "sys.settrace", "sys.setprofile"))):
            if now is before or _same_method(now, before):
                continue
            if now is not None and student(now):
                changed.append(label)
                (lambda v: setattr(sys, "excepthook", v), sys.settrace, sys.setprofile)[i](before)
            else:
                self.hooks[i] = now
        return changed


def _shell():
    getter = _obj_dict(sys.modules.get("IPython") or object()).get("get_ipython")
    return getter() if type(getter) is types.FunctionType else None


def _kernel_objects():
    """The IPython shell and the kernel objects that carry a cell's result to the grader."""
    shell = _shell()
    if shell is None:
        return None, []
    objs = [(shell, "shell")]
    sd = _obj_dict(shell)
    traits = sd.get("_trait_values", {})
    kernel = traits.get("kernel") or sd.get("kernel")
    if kernel is not None:
        objs.append((kernel, "kernel"))
        kt = _obj_dict(kernel).get("_trait_values", {})
        for attr in ("session", "iopub_socket", "iopub_thread", "shell_stream"):
            obj = kt.get(attr) or _obj_dict(kernel).get(attr)
            if obj is not None and _obj_dict(obj):
                objs.append((obj, f"kernel.{attr}"))
    for attr in ("displayhook", "display_pub", "events", "compile"):
        obj = traits.get(attr) or sd.get(attr)
        if obj is not None and _obj_dict(obj):
            objs.append((obj, f"shell.{attr}"))
    for name in ("stdout", "stderr"):
        obj = getattr(sys, name, None)
        if obj is not None and _obj_dict(obj):
            objs.append((obj, f"sys.{name}"))
    return shell, objs


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[1] != "--" or argv[2] != "-m":
        sys.exit("usage: sandbox.py POLICY.json -- -m MODULE ARGS…")
    with open(argv[0], encoding="utf-8") as fh:
        policy = json.load(fh)
    die_with_parent()
    notes = apply_limits(policy)
    log_fd = os.open(policy["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if policy.get("landlock", True):
        notes.append(landlock(policy.get("write_roots", []) + policy.get("trusted_write_roots", []),
                              policy.get("write_files", ["/dev/null"])))
    guard = Guard(policy, log_fd)
    for note in notes:
        guard.emit(k="info", detail=note)
    if policy.get("guard", True):
        sys.addaudithook(guard.hook)
    import runpy

    sys.argv = [argv[3], *argv[4:]]
    runpy.run_module(argv[3], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
