"""Kernel launcher for autograding: resource limits and the operating system's sandbox, then
the kernel.

:class:`dlcourse_staff.nbgrader_ext.SandboxKernelManager` starts every grading kernel as ::

    python sandbox.py POLICY.json -- -m ipykernel_launcher -f CONNECTION.json ...

The student's code runs in that kernel and in nothing else: the hidden checks, the reference
solutions and the verdict live in the grader, another process (see :mod:`dlcourse_staff.probe`).
This launcher keeps that process apart from the grader and from everything the student must not
read. It uses the standard library only and runs no code of the instructor package in the kernel.

Layers, in the order they are applied:

1. **Limits** (``resource``): data segment (a memory bomb gets ``MemoryError``), CPU seconds (a
   backstop behind the grader's wall-clock limits), file size, no core files; the kernel dies
   with its parent (``PR_SET_PDEATHSIG``).
2. **Landlock** (Linux ≥ 5.13, unprivileged): the kernel may *read* only the system's libraries,
   Python, the virtual environment, the student library, the course data and the submission;
   *write* only the submission folder and a private temporary folder; it cannot connect over TCP
   (ABI ≥ 4), signal processes outside its sandbox (ABI ≥ 6), or ptrace / read the memory of
   any process outside it (every ABI). The instructor package, ``source/``, the gradebook and
   other students' work are outside every allowed folder.
3. **seccomp**: no new processes (fork, vfork, a clone that is not a thread, exec) and no
   ``ptrace``/``process_vm_readv``.
4. **Preload** (trusted, before any student code): numpy, torch (with ``torch._dynamo``, which
   the first optimiser would otherwise import inside a student cell), matplotlib (Agg) and the
   student library; malloc gives every block ≥ 256 KiB its own mapping, so that the grader's
   memory measurements see what a computation allocates.

What was applied is written to the policy's ``report`` file; the grader reads it for
the report. A policy with ``"require": true`` makes the launcher exit (status 86) when Landlock
or seccomp cannot be applied, so that grading never runs unsandboxed by accident.
"""
from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__" and sys.path and \
        os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    # Python put this file's folder (the instructor package) on sys.path: take it off first.
    del sys.path[0]

REFUSED = 86  # exit status: the sandbox was required but could not be applied


# --------------------------------------------------------------------------------------------
# limits
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
        # not the shared libraries that importing torch maps, as RLIMIT_AS would.
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


# --------------------------------------------------------------------------------------------
# Landlock
# --------------------------------------------------------------------------------------------
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
LL_WRITE_DIR = sum(1 << b for b in range(4, 13))   # REMOVE_DIR/FILE, MAKE_CHAR/DIR/REG/SOCK/FIFO/BLOCK/SYM
LL_REFER, LL_TRUNCATE = 1 << 13, 1 << 14


def landlock_abi() -> int:
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes
    import platform

    if platform.machine() not in ("x86_64", "aarch64"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
    return max(0, abi)


def landlock(read_roots: list[str], write_roots: list[str], read_files: list[str],
             write_files: list[str] = ("/dev/null",)) -> dict:
    """Allow reading only below ``read_roots`` (and the files ``read_files``), writing only below
    ``write_roots`` (and to ``write_files``); refuse TCP connections and scope signals where the
    ABI allows. ``/proc`` in ``read_roots`` means this process's own ``/proc/<pid>`` and the
    system-wide files libraries read (cpuinfo, meminfo, stat): never another process's
    environment or command line. Returns what was applied ({"abi", "read", "write", "tcp",
    "signals", "ptrace"}) or {"error": …}."""
    abi = landlock_abi()
    if abi < 1:
        return {"abi": 0, "error": "Landlock is not available on this kernel"}
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    sys_create, sys_add, sys_restrict = 444, 445, 446  # the same numbers on x86_64 and aarch64
    read = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
    write = LL_WRITE_FILE | LL_WRITE_DIR | (LL_REFER if abi >= 2 else 0) | (LL_TRUNCATE if abi >= 3 else 0)
    handled = read | write

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    # CONNECT_TCP handled with no rule: no TCP connection at all (binding stays allowed: the
    # kernel's own ZeroMQ sockets bind); scoped: signals and abstract unix sockets.
    attr = Ruleset(handled, (1 << 1) if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset = libc.syscall(sys_create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return {"abi": abi, "error": f"create_ruleset: {os.strerror(ctypes.get_errno())}"}
    if "/proc" in read_roots:
        read_roots = [p for p in read_roots if p != "/proc"] + [f"/proc/{os.getpid()}"]
        read_files = list(read_files) + [p for p in ("/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/filesystems",
                                                    "/proc/self") if os.path.exists(p)]
    rules = [(p, read) for p in read_roots] + [(p, read | write) for p in write_roots] + \
            [(p, LL_READ_FILE) for p in read_files] + [(p, LL_READ_FILE | LL_WRITE_FILE) for p in write_files]
    applied_read, applied_write = [], []
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= LL_EXECUTE | LL_READ_FILE | LL_WRITE_FILE | (LL_TRUNCATE if abi >= 3 else 0)
                rule = PathBeneath(rights, fd)
                if libc.syscall(sys_add, ruleset, 1, ctypes.byref(rule), 0) != 0:  # LANDLOCK_RULE_PATH_BENEATH
                    return {"abi": abi, "error": f"add_rule {path}: {os.strerror(ctypes.get_errno())}"}
                (applied_write if rights & LL_WRITE_FILE else applied_read).append(path)
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return {"abi": abi, "error": f"no_new_privs: {os.strerror(ctypes.get_errno())}"}
        if libc.syscall(sys_restrict, ruleset, 0) != 0:
            return {"abi": abi, "error": f"restrict_self: {os.strerror(ctypes.get_errno())}"}
    finally:
        os.close(ruleset)
    return {"abi": abi, "read": applied_read, "write": applied_write, "tcp": abi >= 4, "signals": abi >= 6,
            "ptrace": True}


# --------------------------------------------------------------------------------------------
# seccomp
# --------------------------------------------------------------------------------------------
# (audit arch, {syscall: errno}, clone, seccomp) per machine; clone3 answers ENOSYS so that the C
# library falls back to clone, whose flags a filter can read.
EPERM, ENOSYS = 1, 38
_SYSCALLS = {
    "x86_64": (0xC000003E, {57: EPERM, 58: EPERM, 59: EPERM, 322: EPERM, 435: ENOSYS, 101: EPERM, 310: EPERM,
                            311: EPERM}, 56, 317),
    "aarch64": (0xC00000B7, {221: EPERM, 281: EPERM, 435: ENOSYS, 117: EPERM, 270: EPERM, 271: EPERM}, 220, 277),
}


def seccomp_no_processes() -> dict:
    """A seccomp filter: no fork/vfork/exec, clone only for threads, no ptrace or reading other
    processes' memory; applied to every thread of the process (TSYNC)."""
    import ctypes
    import platform

    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in _SYSCALLS:
        return {"error": f"seccomp filter not available on {sys.platform}/{machine}"}
    arch, denied, clone_nr, seccomp_nr = _SYSCALLS[machine]
    ld_w_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, refuse = 0x7FFF0000, 0x00050000 | EPERM
    clone_thread = 0x00010000

    program = [(ld_w_abs, 0, 0, 4),                       # A = arch
               (jeq, 1, 0, arch),                         # the native ABI: go on
               (ret, 0, 0, refuse),                       # 32-bit calls (int 0x80): refused
               (ld_w_abs, 0, 0, 0),                       # A = syscall number
               (jge, 0, 1, 0x40000000),                   # the x32 ABI's numbers: refused
               (ret, 0, 0, refuse)]
    for nr, errno in denied.items():
        program += [(jeq, 0, 1, nr), (ret, 0, 0, 0x00050000 | errno)]
    program += [(jeq, 0, 3, clone_nr),                    # clone: look at its flags
                (ld_w_abs, 0, 0, 16),                     # A = low word of args[0]
                (jset, 1, 0, clone_thread),               # a thread: allow
                (ret, 0, 0, refuse),                      # a new process: refuse
                (ret, 0, 0, allow)]

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]

    filters = (SockFilter * len(program))(*[SockFilter(*ins) for ins in program])
    prog = SockFprog(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return {"error": f"no_new_privs: {os.strerror(ctypes.get_errno())}"}
    # seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog)
    if libc.syscall(seccomp_nr, 1, 1, ctypes.byref(prog)) != 0:
        return {"error": f"seccomp: {os.strerror(ctypes.get_errno())}"}
    return {"processes": False, "ptrace": False}


# --------------------------------------------------------------------------------------------
# preload
# --------------------------------------------------------------------------------------------
def preload(modules: list[str]) -> list[str]:
    """Import trusted libraries before any student code; returns the ones that failed."""
    import importlib

    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD: every big block its own mapping
    except (OSError, AttributeError):
        pass
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - a missing optional library is not fatal
            failed.append(f"{name}: {type(err).__name__}")
    return failed


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[1] != "--" or argv[2] != "-m":
        sys.exit("usage: sandbox.py POLICY.json -- -m MODULE ARGS…")
    with open(argv[0], encoding="utf-8") as fh:
        policy = json.load(fh)
    die_with_parent()
    applied = {"limits": apply_limits(policy)}
    if policy.get("landlock", True):
        applied["landlock"] = landlock(policy.get("read_roots", []), policy.get("write_roots", []),
                                       policy.get("read_files", []))
    if policy.get("seccomp", True):
        applied["seccomp"] = seccomp_no_processes()
    problems = [f"{k}: {v['error']}" for k, v in applied.items() if isinstance(v, dict) and "error" in v]
    applied["problems"] = problems
    # the report goes to the private temporary folder (writable under Landlock); the grader reads
    # it when the kernel first answers, before any student code has run
    with open(policy["report"], "w", encoding="utf-8") as fh:
        json.dump(applied, fh)
    if problems and policy.get("require", True):
        sys.stderr.write("sandbox could not be applied: " + "; ".join(problems) + "\n")
        os._exit(REFUSED)
    applied["preload_failed"] = preload(policy.get("preload", []))
    import runpy

    sys.argv = [argv[3], *argv[4:]]
    runpy.run_module(argv[3], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
