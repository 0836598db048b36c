"""The grader's side of the probe protocol (the kernel's side is :mod:`dlcourse.probe`).

A hidden check receives a :class:`Kernel` and one :class:`Remote` per object its test cell
names. It asks the kernel to construct, call, load and differentiate the student's objects,
gets back plain data, and compares that data with the reference *here*, in the grader's
process. Two transports carry the requests:

* :class:`KernelTransport` — the real one: Jupyter messages to the student's sandboxed kernel
  (used by :class:`dlcourse_staff.nbgrader_ext.GradeExecute` when autograding);
* :class:`LocalTransport` — the same driver called in this process on objects it was given
  (the instructor's own kernel running the source notebook, and the mutation harness).

Both go through the same encoding, so a check behaves the same on either.
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import time
from typing import Any, Callable

import torch

from dlcourse import probe as wire
from dlcourse.probe import Codec, HandleInfo, ProbeError, meta, pack, unpack

__all__ = ["Kernel", "Remote", "RemoteError", "KernelLost", "ProbeTimeout", "LocalTransport", "KernelTransport",
           "meta", "flatten"]


class RemoteError(Exception):
    """The student's code raised while the kernel carried out a request."""

    def __init__(self, etype: str, message: str, *, not_implemented: bool = False, graph: bool = False):
        super().__init__(f"{etype}: {message}")
        self.etype, self.message = etype, message
        self.not_implemented, self.graph = not_implemented, graph


class KernelLost(BaseException):
    """The kernel died or stopped answering: the check cannot go on (a BaseException so that no
    ``except Exception`` in a check swallows it)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class ProbeTimeout(KernelLost):
    """A request took longer than the check's time allows."""


# --------------------------------------------------------------------------------------------
# transports
# --------------------------------------------------------------------------------------------
class LocalTransport:
    """The driver in this process, on a given namespace (the caller's globals)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.oracle_handler: Callable[[str], str] | None = None
        self.driver = wire.Driver(lambda: self.namespace, ask=self._ask)

    def _ask(self, text: str) -> str:
        if self.oracle_handler is None:
            raise ProbeError("no oracle handler")
        return self.oracle_handler(text)

    def request(self, text: str, *, deadline: float | None = None) -> str:
        return self.driver.handle_text(text)

    def register(self, obj) -> int:
        return self.driver.codec.handle(obj)["$handle"]

    def pid(self) -> int:
        return os.getpid()

    def local_object(self, handle: int):
        return self.driver.handles.get(handle)


class KernelTransport:
    """Requests as ``execute_request`` messages to a Jupyter kernel; answers as display data.

    A client of its own (blocking) is connected to the kernel, so the notebook executor's client
    is not disturbed. While a request runs, the kernel may ask for an oracle's answer through
    the stdin channel (``input_request``); the transport answers it with ``oracle_handler``."""

    def __init__(self, kernel_manager, *, max_message: int = wire.MAX_MESSAGE + 2 ** 20):
        self.km = kernel_manager
        self.kc = kernel_manager.blocking_client()
        self.kc.start_channels()
        self.oracle_handler: Callable[[str], str] | None = None
        self._set_max_message(max_message)
        self.requests = 0
        self.seconds = 0.0

    def _set_max_message(self, limit: int) -> None:
        # A kernel that sends a gigantic message is cut off rather than filling the grader's memory.
        import zmq

        for channel in (self.kc.iopub_channel, self.kc.shell_channel, self.kc.stdin_channel):
            sock = getattr(channel, "socket", None)
            if sock is not None:
                try:
                    sock.setsockopt(zmq.MAXMSGSIZE, limit)
                except Exception:  # noqa: BLE001 - an older libzmq: the kernel's memory limit remains
                    pass

    setup_rss: int | None = None   # the kernel's resident memory right after the setup cell (bytes)

    def pid(self) -> int | None:
        return getattr(getattr(self.km, "provisioner", None), "pid", None)

    def local_object(self, handle: int):
        return None

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        except Exception:  # noqa: BLE001
            pass

    def alive(self) -> bool:
        try:
            return bool(_sync(self.km.is_alive()))
        except Exception:  # noqa: BLE001
            return False

    def request(self, text: str, *, deadline: float | None = None) -> str:
        import zmq

        t0 = time.perf_counter()
        self.requests += 1
        code = f"__import__('dlcourse.probe', fromlist=['serve']).serve({text!r})"
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=True, stop_on_error=False)
        poller = zmq.Poller()
        sockets = {}
        for name in ("iopub", "stdin", "shell"):
            channel = getattr(self.kc, f"{name}_channel")
            poller.register(channel.socket, zmq.POLLIN)
            sockets[channel.socket] = (name, channel)
        answer, idle, replied = None, False, False
        last_alive = time.monotonic()
        try:
            while not (idle and replied):
                wait_ms = 200
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._interrupt(msg_id)
                        raise ProbeTimeout("timed out", "검사 요청이 제한 시간 안에 끝나지 않았습니다 (probe timed out)")
                    wait_ms = max(1, min(wait_ms, int(left * 1000)))
                events = dict(poller.poll(wait_ms))
                if not events:
                    if time.monotonic() - last_alive > 1.0:
                        last_alive = time.monotonic()
                        if not self.alive():
                            raise KernelLost("failed", "커널이 종료되었습니다 (kernel died)")
                    continue
                for sock in events:
                    name, channel = sockets[sock]
                    msg = channel.get_msg(timeout=0)
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    mtype = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
                    content = msg.get("content", {})
                    if name == "iopub":
                        if mtype == "display_data" and wire.MIME in content.get("data", {}):
                            answer = content["data"][wire.MIME]
                        elif mtype == "status" and content.get("execution_state") == "idle":
                            idle = True
                    elif name == "stdin" and mtype == "input_request":
                        self.kc.input(self._oracle(content.get("prompt", "")))
                    elif name == "shell" and mtype == "execute_reply":
                        replied = True
                        if content.get("status") == "error" and answer is None:
                            answer = pack({"ok": False, "error": {
                                "type": str(content.get("ename", "Error"))[:80],
                                "message": str(content.get("evalue", ""))[:500]}}, [])
        finally:
            self.seconds += time.perf_counter() - t0
        if answer is None:
            raise RemoteError("ProbeError", "커널이 검사 요청에 답하지 않았습니다 (no answer from the kernel)")
        return answer

    def _oracle(self, prompt: str) -> str:
        if not prompt.startswith(wire.ORACLE_PROMPT) or self.oracle_handler is None:
            return pack({"ok": False, "error": {"type": "ProbeError", "message": "입력을 받을 수 없습니다"}}, [])
        return self.oracle_handler(prompt[len(wire.ORACLE_PROMPT):])

    def _interrupt(self, msg_id: str) -> None:
        """Interrupt the hung request; a kernel that does not come back within 5 s is killed."""
        try:
            _sync(self.km.interrupt_kernel())
        except Exception:  # noqa: BLE001
            pass
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                msg = self.kc.shell_channel.get_msg(timeout=0.2)
            except Exception:  # noqa: BLE001 - queue.Empty
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return
        try:
            _sync(self.km.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001
            pass
        raise KernelLost("timed out", "검사 요청이 멈춰 인터럽트에도 응답하지 않아 커널을 멈췄습니다 "
                                      "(the kernel ignored the interrupt and was stopped)")


def _sync(value):
    """The result of a kernel manager's call, awaited when the manager is asynchronous."""
    import asyncio

    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        from jupyter_core.utils import run_sync

        async def wait():
            return await value
        return run_sync(wait)()
    return value


# --------------------------------------------------------------------------------------------
# references the grader passes in
# --------------------------------------------------------------------------------------------
class _Tag:
    """Something the grader sends that the kernel resolves: a part, a generator, a name."""

    def __init__(self, tag: dict):
        self.tag = tag


def flatten(value) -> list:
    """The tensors of a nested tuple/list/dict result, in the order the driver uses."""
    out = []

    def walk(node):
        if isinstance(node, torch.Tensor):
            out.append(node)
        elif type(node) in (tuple, list):
            for v in node:
                walk(v)
        elif type(node) is dict:
            for v in node.values():
                walk(v)

    walk(value)
    return out


# --------------------------------------------------------------------------------------------
# the session a check works with
# --------------------------------------------------------------------------------------------
class Kernel:
    """One check's connection to the student's kernel (or to a local namespace)."""

    def __init__(self, transport, *, deadline: float | None = None, sources: dict | None = None):
        self.transport = transport
        self.deadline = deadline
        self.sources = dict(sources or {})      # solution cell id → the text the student handed in
        self.codec = Codec()
        self._oracles: dict[str, Callable] = {}
        self._calls: dict[int, tuple] = {}
        self._ids = itertools.count(1)
        self._token = f"t{id(self):x}{time.monotonic_ns():x}"
        transport.oracle_handler = self._answer_oracle

    # --- plumbing ------------------------------------------------------------------------------
    def _encode(self, value, blobs):
        if isinstance(value, Remote):
            return {"$ref": value.handle}
        if isinstance(value, _Tag):
            return value.tag
        t = type(value)
        if t in (tuple, list):
            return {f"${t.__name__}": [self._encode(v, blobs) for v in value]}
        if t is dict:
            return {"$dict": [[self._encode(k, blobs), self._encode(v, blobs)] for k, v in value.items()]}
        return self.codec.encode(value, blobs)

    def request(self, op: str, **fields) -> Any:
        blobs: list = []
        payload = {"op": op, **{k: self._encode(v, blobs) for k, v in fields.items()}}
        text = self.transport.request(pack(payload, blobs), deadline=self.deadline)
        try:
            answer, ablobs = unpack(text)
            if answer.get("ok"):
                return self.codec.decode(answer.get("result"), ablobs)
            err = answer.get("error") or {}
        except (ProbeError, ValueError, TypeError, KeyError) as bad:
            raise RemoteError("ProbeError", f"커널의 응답을 읽을 수 없습니다 ({type(bad).__name__})") from None
        raise RemoteError(str(err.get("type", "Error"))[:80], str(err.get("message", ""))[:500],
                          not_implemented=bool(err.get("not_implemented")), graph=bool(err.get("graph")))

    def _remote(self, result) -> "Remote":
        if not isinstance(result, HandleInfo):
            raise RemoteError("ProbeError", "핸들이 와야 할 자리에 값이 왔습니다")
        return Remote(self, result)

    # --- objects --------------------------------------------------------------------------------
    def name(self, name: str) -> "Remote":
        """The object bound to ``name`` in the notebook."""
        return self._remote(self.request("value", target=_Tag({"$name": name}), keep=True))

    def wrap(self, handle: int) -> "Remote":
        return Remote(self, HandleInfo(handle, "?", "object"))

    @staticmethod
    def part(name: str) -> _Tag:
        """A class or function of :mod:`dlcourse.probe_parts`, to pass as an argument."""
        return _Tag({"$part": name})

    @staticmethod
    def generator(seed: int) -> _Tag:
        """A ``torch.Generator`` seeded with ``seed``, made in the kernel."""
        return _Tag({"$gen": int(seed)})

    def make(self, part: str, *args, state: dict | None = None, **kwargs) -> "Remote":
        """An instance of a probe part, optionally with the given state_dict loaded."""
        obj = CallResult(self, self.request("call", target=self.part(part), args=list(args), kwargs=kwargs,
                                            keep=True)).out
        if state is not None:
            obj.load_state(state)
        return obj

    def run_part(self, part: str, *args, **kwargs):
        """Call a function of :mod:`dlcourse.probe_parts` in the kernel; its result as data."""
        return CallResult(self, self.request("call", target=self.part(part), args=list(args), kwargs=kwargs,
                                             keep=True, fetch=True)).value

    def invoke_part(self, part: str, *args, **kwargs) -> "CallResult":
        """Call a function of :mod:`dlcourse.probe_parts`: its result as data (``.value``) and
        kept in the kernel (``.out``, e.g. for gradients)."""
        return CallResult(self, self.request("call", target=self.part(part), args=list(args), kwargs=kwargs,
                                             keep=True, fetch=True))

    def run_part_remote(self, part: str, *args, **kwargs) -> "Remote":
        """Call a function of :mod:`dlcourse.probe_parts`; its result stays in the kernel."""
        return CallResult(self, self.request("call", target=self.part(part), args=list(args), kwargs=kwargs,
                                             keep=True)).out

    def leaf(self, tensor: torch.Tensor) -> "Remote":
        """A copy of ``tensor`` in the kernel that requires grad (for gradients later)."""
        return self._remote(self.request("leaf", value=tensor.detach()))

    def backward(self, outputs, weights) -> None:
        """backward of Σ sum(out_i · w_i) in the kernel; ``outputs`` are Remotes of tensors."""
        outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        ws = weights if isinstance(weights, (list, tuple)) else [weights]
        self.request("backward", outputs=list(outs), weights=[w.detach() for w in ws])

    def put(self, value) -> "Remote":
        """Send data to the kernel once and keep it there (e.g. big inputs for a measurement)."""
        return self._remote(self.request("value", target=value, keep=True))

    def cell_source(self, cell_id: str, remote: "Remote | None" = None) -> str:
        """The text of the student's solution cell ``cell_id`` (what the grader graded); in the
        instructor's kernel, the source of the local object."""
        if cell_id in self.sources:
            return self.sources[cell_id]
        obj = self.transport.local_object(remote.handle) if remote is not None else None
        try:
            return inspect.getsource(obj) if obj is not None else ""
        except (OSError, TypeError):
            return ""

    def peak_memory(self, fn: "Remote", *args, **kwargs) -> dict | None:
        """Call ``fn(*args, **kwargs)`` without gradients and measure, from outside the kernel,
        how much its peak resident memory rose (Linux: reset ``/proc/<pid>/clear_refs``, read
        ``VmHWM``). Pass big inputs as :meth:`put` Remotes so that their transfer is not counted.
        Returns {"extra_mb", "before_mb", "held_mb"} or None where it cannot be measured."""
        pid = self.transport.pid()
        if pid is None or not os.path.exists(f"/proc/{pid}/clear_refs"):
            return None
        if pid == os.getpid():
            exact_malloc()   # in-process (instructor kernel, harness): as the grading kernel does
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as fh:
                fh.write("5")
            before = _proc_status(pid)
        except OSError:
            return None
        fn.invoke(*args, kwargs=kwargs, no_grad=True, fetch=False)
        after = _proc_status(pid)
        setup = getattr(self.transport, "setup_rss", None)
        return {"extra_mb": (after["VmHWM"] - before["VmRSS"]) / 2 ** 20, "before_mb": before["VmRSS"] / 2 ** 20,
                "held_mb": (before["VmRSS"] - setup) / 2 ** 20 if setup else 0.0}

    def seed(self, seed: int) -> None:
        self.request("seed", seed=int(seed))

    def release(self) -> None:
        self.request("release")

    # --- oracles ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def oracles(self, **functions: Callable):
        """Bind names of the notebook to grader-computed functions while the block runs.

        The kernel calls back into this process for each call (and its backward); a name bound
        here answers only while this block runs."""
        specs = {}
        for name, fn in functions.items():
            self._oracles[name] = fn
            specs[name] = _Tag({"$oracle": {"name": name, "token": self._token}})
        self.request("bind", names=specs)
        try:
            yield
        finally:
            for name in functions:
                self._oracles.pop(name, None)
            self._calls.clear()
            with contextlib.suppress(RemoteError):
                self.request("unbind")

    def _answer_oracle(self, text: str) -> str:
        blobs_out: list = []
        try:
            payload, blobs = unpack(text)
            spec = self.codec.decode(payload.get("spec"), blobs)
            if not isinstance(spec, dict) or spec.get("token") != self._token or spec.get("name") not in self._oracles:
                raise ProbeError("이 검사 중에만 쓸 수 있는 함수입니다 (oracle no longer valid)")
            fn = self._oracles[spec["name"]]
            if payload.get("op") == "oracle":
                args = self.codec.decode(payload["args"], blobs)
                kwargs = self.codec.decode(payload["kwargs"], blobs)
                needs = self.codec.decode(payload.get("needs_grad"), blobs) or []
                leaves = iter(needs)
                call_args, call_kwargs = _map_tensors((args, kwargs), lambda t: t.detach().clone().requires_grad_(
                    bool(next(leaves, False)) and (t.dtype.is_floating_point or t.dtype.is_complex)))
                with torch.enable_grad():
                    result = fn(*call_args, **call_kwargs)
                call = next(self._ids)
                self._calls[call] = (flatten((call_args, call_kwargs)), flatten(result))
                answer = {"ok": True, "result": self.codec.encode(
                    {"call": call, "result": _map_tensors(result, lambda t: t.detach())}, blobs_out)}
            elif payload.get("op") == "oracle_backward":
                call = self.codec.decode(payload["call"], blobs)
                grads = self.codec.decode(payload["grads"], blobs)
                inputs, outputs = self._calls[call]
                pairs = [(o, g) for o, g in zip(outputs, grads)
                         if isinstance(g, torch.Tensor) and o.requires_grad]
                wanted = [x for x in inputs if x.requires_grad]
                got = torch.autograd.grad([o for o, _ in pairs], wanted, [g.to(o.dtype) for o, g in pairs],
                                          allow_unused=True) if pairs and wanted else [None] * len(wanted)
                it = iter(got)
                grads_in = [next(it) if x.requires_grad else None for x in inputs]
                answer = {"ok": True, "result": self.codec.encode({"grads": grads_in}, blobs_out)}
            else:
                raise ProbeError("알 수 없는 요청")
        except Exception as err:  # noqa: BLE001 - the kernel gets an error, the check goes on
            answer, blobs_out = {"ok": False, "error": {"type": type(err).__name__, "message": str(err)[:300]}}, []
        return pack(answer, blobs_out)


def exact_malloc() -> None:
    """Make every allocation of 256 KiB or more its own mapping (glibc ``M_MMAP_THRESHOLD``), so
    that freed blocks are returned at once and a process's peak resident memory shows what a
    computation allocated, not what an earlier one left in the heap."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _map_tensors(tree, fn):
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if type(tree) in (tuple, list):
        return type(tree)(_map_tensors(v, fn) for v in tree)
    if type(tree) is dict:
        return {k: _map_tensors(v, fn) for k, v in tree.items()}
    return tree


class CallResult:
    """What :meth:`Remote.invoke` brings back: the output (a Remote with its value), the target
    the call ran on (when copied), the arguments after the call, the module's training flag."""

    def __init__(self, kernel: Kernel, raw: dict):
        self.kernel = kernel
        self.out: Remote = kernel._remote(raw["out"])
        self.value = self.out._wrap(raw["value"]) if "value" in raw else None
        self.target: Remote | None = kernel._remote(raw["target"]) if "target" in raw else None
        self.args = raw.get("args")
        self.kwargs = raw.get("kwargs")
        self.training = raw.get("training")


class Remote:
    """An object that lives in the kernel. Calls and attribute reads are requests; ``get()``
    brings its value back as plain data (tensors, numbers, nested tuples/lists/dicts, with
    inner objects as Remotes)."""

    _MISSING = object()

    def __init__(self, kernel: Kernel, info: HandleInfo):
        self.kernel, self.handle, self.cls, self.kind = kernel, info.handle, info.cls, info.kind

    def __repr__(self):
        return f"<Remote {self.kind} {self.cls} #{self.handle}>"

    def _wrap(self, value):
        if isinstance(value, HandleInfo):
            return Remote(self.kernel, value)
        if type(value) in (tuple, list):
            return type(value)(self._wrap(v) for v in value)
        if type(value) is dict:
            return {k: self._wrap(v) for k, v in value.items()}
        return value

    # --- calls ----------------------------------------------------------------------------------
    def invoke(self, *args, method: str | None = None, copy: bool = False, train: bool | None = None,
               seed: int | None = None, no_grad: bool = False, autocast: str | None = None,
               return_args: bool = False, report_training: bool = False, kwargs: dict | None = None,
               fetch: bool = True) -> CallResult:
        """Call the object (or its ``method``) with options. The output stays in the kernel
        (``.out``, for gradients or further calls) and, with ``fetch``, comes back as data
        (``.value``)."""
        raw = self.kernel.request("call", target=self, method=method, args=list(args), kwargs=dict(kwargs or {}),
                                  copy=copy, train=train, seed=seed, no_grad=no_grad, autocast=autocast,
                                  return_args=return_args, report_training=report_training, keep=True,
                                  fetch=fetch)
        result = CallResult(self.kernel, raw)
        if result.args is not None:
            result.args = self._wrap(result.args)
        return result

    def __call__(self, *args, **kwargs) -> "Remote":
        """Call; the result stays in the kernel (a Remote)."""
        return self.invoke(*args, kwargs=kwargs, fetch=False).out

    def call(self, *args, **kwargs):
        """Call and bring the result back as data."""
        return self.invoke(*args, kwargs=kwargs).value

    def method(self, name: str, *args, **kwargs):
        """Call a method and bring the result back as data."""
        return self.invoke(*args, method=name, kwargs=kwargs).value

    def get(self):
        """The object's value as plain data (objects that are not data come back as Remotes)."""
        return self._wrap(self.kernel.request("value", target=self))

    def attr(self, name: str) -> "Remote":
        return Remote(self.kernel, self.kernel.request("attr", target=self, name=name, keep=True))

    def getattr(self, name: str, default=_MISSING):
        """An attribute's value as data; ``default`` when it does not exist."""
        try:
            return self._wrap(self.kernel.request("attr", target=self, name=name))
        except RemoteError as err:
            if err.etype == "AttributeError" and default is not Remote._MISSING:
                return default
            raise

    def setattr(self, name: str, value) -> None:
        self.kernel.request("setattr", target=self, name=name, value=value)

    def item(self, key) -> "Remote":
        return Remote(self.kernel, self.kernel.request("item", target=self, key=key, keep=True))

    def len(self) -> int:
        return int(self.kernel.request("len", target=self))

    def isinstance(self, cls: str) -> bool:
        return bool(self.kernel.request("isinstance", target=self, cls=cls))

    # --- modules ---------------------------------------------------------------------------------
    def copy(self) -> "Remote":
        return Remote(self.kernel, self.kernel.request("copy", target=self))

    def state(self) -> dict:
        return self.kernel.request("state", target=self)

    def layout(self) -> dict:
        """{name: (shape, dtype)} of the state_dict."""
        return {k: (tuple(v[0]), v[1]) for k, v in self.kernel.request("state", target=self, layout=True).items()}

    def load_state(self, state: dict, strict: bool = True) -> dict:
        return self.kernel.request("load_state", target=self, state={k: v.detach() for k, v in state.items()},
                                   strict=strict)

    def grads(self) -> dict:
        """{parameter name: gradient or None}."""
        return self.kernel.request("named", target=self, what="grads")

    def params(self) -> dict:
        return self.kernel.request("named", target=self, what="params")

    def buffers(self) -> dict:
        return self.kernel.request("named", target=self, what="buffers")

    def grad(self):
        """The gradient of a kept leaf tensor (None when none reached it)."""
        return self.kernel.request("grad", target=self)

    def train(self, mode: bool = True) -> None:
        self.invoke(mode, method="train")

    def zero_grad(self) -> None:
        self.kernel.request("zero_grad", target=self)
