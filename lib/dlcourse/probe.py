"""The probe driver: how the grader asks a notebook's kernel about the student's code.

When a notebook is autograded, the hidden checks do **not** run in the student's kernel. They
run in the grader, a separate process, and talk to the kernel through this small driver:
"construct ``BasicBlock(8, 16, 2)``", "load this state_dict", "call it on this tensor",
"backward with these output weights", "send me the gradients". The kernel answers with plain
data only (tensors as raw bytes with dtype and shape, numbers, strings, nested tuples, lists and
dicts); objects that are not plain data stay in the kernel and travel as numbered handles. The
grader compares what comes back with its own reference, in its own process.

This module is public and ordinary: a notebook could replace or rewrite it. That changes
nothing but its own answers, exactly as if the student had written different code — the
verdict is never computed here.

Wire format (JSON, with tensor bytes base64-encoded next to it)::

    request  {"op": "call", "target": <value>, "args": [<value>...], "kwargs": {...}, ...}
    response {"ok": true, "result": <value>}  |  {"ok": false, "error": {"type": ..., "message": ...}}

    <value>  null, true/false, numbers, strings, or tagged objects:
             {"$tensor": i, "dtype": "float32", "shape": [2, 3], ...}  (bytes in blob i)
             {"$tuple": [...]}, {"$list": [...]}, {"$dict": [[k, v], ...]}, {"$float": "nan"}
             {"$handle": n, "cls": "BasicBlock", "kind": "module"}     (an object kept here)
    the grader may also send {"$name": "BasicBlock"} (a name in the notebook), {"$ref": n},
    {"$part": "ProbeBlock"} (a class of :mod:`dlcourse.probe_parts`), {"$gen": seed} (a seeded
    ``torch.Generator``), {"$dtype": "float16"}, {"$oracle": {...}} (a function whose answers
    come from the grader: see :class:`Oracle`).
"""
from __future__ import annotations

import base64
import json
import math
import sys
import types

MIME = "application/x.dlcourse-probe+json"
MAX_MESSAGE = 200 * 2 ** 20      # bytes of one answer (tensor data included)

DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
          "complex64", "complex128")


class ProbeError(Exception):
    """A request the driver cannot carry out (an unknown handle, data that is not data)."""


# --------------------------------------------------------------------------------------------
# values <-> JSON
# --------------------------------------------------------------------------------------------
def _torch():
    import torch
    return torch


def _kind(obj) -> str:
    torch = _torch()
    if isinstance(obj, type):
        return "class"
    if isinstance(obj, torch.nn.Module):
        return "module"
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return "function"
    return "object"


class Codec:
    """Turns values into JSON-able structures plus byte blobs, and back.

    ``handles`` maps numbers to the objects this side keeps; ``resolve`` interprets the tags
    only the grader may send ($name, $ref, $part, $gen, $oracle) and is None on the grader."""

    def __init__(self, handles: dict | None = None, resolve=None):
        self.handles = handles if handles is not None else {}
        self.resolve = resolve

    # --- encode ------------------------------------------------------------------------------
    def encode(self, value, blobs: list, *, depth: int = 0):
        torch = _torch()
        if depth > 20:
            raise ProbeError("값이 너무 깊게 중첩되어 있습니다 (nested too deeply)")
        t = type(value)
        if t is Keep:
            return self.handle(value.value)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return value if abs(value) < 2 ** 62 else {"$int": str(value)}
        if t is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, torch.Tensor):
            return self._encode_tensor(value, blobs)
        if t is tuple or t is torch.Size:
            return {"$tuple": [self.encode(v, blobs, depth=depth + 1) for v in value]}
        if t is list:
            return {"$list": [self.encode(v, blobs, depth=depth + 1) for v in value]}
        if t is dict:
            return {"$dict": [[self.encode(k, blobs, depth=depth + 1), self.encode(v, blobs, depth=depth + 1)]
                              for k, v in value.items()]}
        if t is torch.dtype:
            return {"$dtype": str(value).replace("torch.", "")}
        if t is torch.device:
            return {"$device": str(value)}
        np = sys.modules.get("numpy")
        if np is not None:
            if t is np.ndarray and value.dtype.kind in "biufc":
                return self._encode_tensor(torch.from_numpy(np.ascontiguousarray(value)), blobs, numpy=True)
            if isinstance(value, np.generic) and value.dtype.kind in "biufc":
                return {"$npscalar": value.dtype.name, "value": self.encode(value.item(), blobs, depth=depth + 1)}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # an int/float subclass: its plain value, and the class it had
            plain = int.__int__(value) if isinstance(value, int) else float.__float__(value)
            return {"$subclass": t.__name__, "value": self.encode(plain, blobs, depth=depth + 1)}
        return self.handle(value)

    def handle(self, value) -> dict:
        for n, obj in self.handles.items():
            if obj is value:
                break
        else:
            n = len(self.handles) + 1
            while n in self.handles:
                n += 1
            self.handles[n] = value
        try:
            cls = type(value).__name__ if not isinstance(value, type) else value.__name__
        except Exception:  # noqa: BLE001 - a rigged metaclass: its answer, not ours
            cls = "?"
        return {"$handle": n, "cls": str(cls)[:80], "kind": _kind(value)}

    def _encode_tensor(self, value, blobs, numpy=False):
        torch = _torch()
        info = {"dtype": str(value.dtype).replace("torch.", ""), "shape": list(value.shape),
                "device": str(value.device), "requires_grad": bool(value.requires_grad),
                "grad_fn": type(value.grad_fn).__name__ if value.grad_fn is not None else None,
                "cls": type(value).__name__}
        if numpy:
            info["numpy"] = True
        if info["dtype"] not in DTYPES:
            raise ProbeError(f"지원하지 않는 텐서 dtype입니다: {info['dtype']}")
        data = value.detach()
        if data.layout != torch.strided:
            data = data.to_dense()
        data = torch.Tensor._make_subclass(torch.Tensor, data.to("cpu")) if type(data) is not torch.Tensor else data.to("cpu")
        data = data.contiguous().reshape(-1)
        raw = data.view(torch.uint8) if data.numel() else torch.empty(0, dtype=torch.uint8)
        blobs.append(raw.numpy().tobytes())
        info["$tensor"] = len(blobs) - 1
        return info

    # --- decode ------------------------------------------------------------------------------
    def decode(self, value, blobs: list, *, depth: int = 0):
        if depth > 20:
            raise ProbeError("값이 너무 깊게 중첩되어 있습니다 (nested too deeply)")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:  # plain JSON lists are not produced by encode; accept them as lists
            return [self.decode(v, blobs, depth=depth + 1) for v in value]
        if type(value) is not dict or len(value) == 0:
            raise ProbeError("알 수 없는 값 형식입니다 (unknown value)")
        if "$tensor" in value:
            return decode_tensor(value, blobs)
        if "$tuple" in value:
            return tuple(self.decode(v, blobs, depth=depth + 1) for v in value["$tuple"])
        if "$list" in value:
            return [self.decode(v, blobs, depth=depth + 1) for v in value["$list"]]
        if "$dict" in value:
            return {self.decode(k, blobs, depth=depth + 1): self.decode(v, blobs, depth=depth + 1)
                    for k, v in value["$dict"]}
        if "$float" in value:
            return float(value["$float"])
        if "$int" in value:
            return int(value["$int"])
        if "$dtype" in value:
            return getattr(_torch(), str(value["$dtype"]))
        if "$device" in value:
            return _torch().device(str(value["$device"]))
        if "$npscalar" in value:
            return NumpyScalar(str(value["$npscalar"]), self.decode(value["value"], blobs, depth=depth + 1))
        if "$subclass" in value:
            return Subclassed(str(value["$subclass"]), self.decode(value["value"], blobs, depth=depth + 1))
        if "$handle" in value:
            if self.resolve is None:     # the grader: a handle stays a handle
                return HandleInfo(int(value["$handle"]), str(value.get("cls", "?")), str(value.get("kind", "object")))
            return self.resolve({"$ref": value["$handle"]})
        if self.resolve is not None:
            return self.resolve(value)
        raise ProbeError(f"알 수 없는 태그입니다: {sorted(value)[:3]}")


def decode_tensor(info: dict, blobs: list):
    """A CPU tensor from ``info`` (dtype, shape) and its blob, checked before it is built."""
    torch = _torch()
    dtype = info.get("dtype")
    if dtype not in DTYPES:
        raise ProbeError(f"지원하지 않는 dtype: {dtype!r}")
    shape = info.get("shape")
    if type(shape) is not list or len(shape) > 16 or not all(type(s) is int and s >= 0 for s in shape):
        raise ProbeError("텐서 모양(shape)이 올바르지 않습니다")
    index = info.get("$tensor")
    if type(index) is not int or not 0 <= index < len(blobs):
        raise ProbeError("텐서 데이터가 없습니다")
    raw = blobs[index]
    tdtype = getattr(torch, dtype)
    numel = math.prod(shape)
    itemsize = torch.empty((), dtype=tdtype).element_size()
    if len(raw) != numel * itemsize:
        raise ProbeError(f"텐서 데이터 크기가 모양 {tuple(shape)}와 맞지 않습니다")
    if numel == 0:
        out = torch.empty(shape, dtype=tdtype)
    else:
        out = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(tdtype).reshape(shape)
    facts = {k: info.get(k) for k in ("device", "requires_grad", "grad_fn", "cls", "numpy")}
    if facts.get("cls") not in (None, "Tensor") or facts.get("requires_grad") or facts.get("grad_fn") \
            or facts.get("numpy") or (facts.get("device") or "cpu") != "cpu":
        out.probe_meta = facts  # a plain tensor that remembers what the kernel said about it
    return out


def meta(tensor) -> dict:
    """What the kernel said about a decoded tensor: device, requires_grad, grad_fn, cls, numpy."""
    base = {"device": "cpu", "requires_grad": False, "grad_fn": None, "cls": "Tensor", "numpy": False}
    base.update({k: v for k, v in getattr(tensor, "probe_meta", {}).items() if v is not None})
    return base


class NumpyScalar:
    """A NumPy scalar that came back (e.g. ``np.float32``): its dtype name and Python value."""

    def __init__(self, dtype: str, value):
        self.dtype, self.value = dtype, value

    def __repr__(self):
        return f"numpy.{self.dtype}({self.value!r})"


class Subclassed:
    """An int or float of a subclass that came back: the class name and the plain value."""

    def __init__(self, cls: str, value):
        self.cls, self.value = cls, value

    def __repr__(self):
        return f"{self.cls}({self.value!r})"


class HandleInfo:
    """The grader's view of an object kept in the kernel."""

    def __init__(self, handle: int, cls: str, kind: str):
        self.handle, self.cls, self.kind = handle, cls, kind

    def __repr__(self):
        return f"<{self.kind} {self.cls} #{self.handle}>"


def pack(payload: dict, blobs: list) -> str:
    """One message: the JSON payload and the base64 blobs."""
    text = json.dumps({"payload": payload, "blobs": [base64.b64encode(b).decode("ascii") for b in blobs]},
                      allow_nan=True, separators=(",", ":"))
    if len(text) > MAX_MESSAGE:
        raise ProbeError(f"응답이 너무 큽니다 ({len(text) / 2 ** 20:.0f} MiB)")
    return text


def unpack(text: str) -> tuple[dict, list]:
    if type(text) is not str or len(text) > MAX_MESSAGE:
        raise ProbeError("메시지가 너무 크거나 문자열이 아닙니다")
    data = json.loads(text)
    if type(data) is not dict or type(data.get("payload")) is not dict or type(data.get("blobs")) is not list:
        raise ProbeError("메시지 형식이 올바르지 않습니다")
    blobs = [base64.b64decode(b, validate=True) for b in data["blobs"] if type(b) is str]
    if len(blobs) != len(data["blobs"]):
        raise ProbeError("메시지 형식이 올바르지 않습니다")
    return data["payload"], blobs


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------
class Oracle:
    """A stand-in for another graded function of the notebook whose answers come from the grader.

    While a check of part B runs, the grader may bind the name of part A (say
    ``stable_masked_softmax``) to an ``Oracle`` so that B is judged with a correct A. Calling it
    sends the arguments to the grader and returns the grader's result; it is differentiable
    (backward asks the grader too). Its token is valid only while that check runs."""

    def __init__(self, driver: "Driver", spec: dict):
        self._driver, self._spec = driver, spec
        self.__name__ = str(spec.get("name", "oracle"))

    def __call__(self, *args, **kwargs):
        return self._driver.oracle_call(self._spec, args, kwargs)

    def __repr__(self):
        return f"<grader-provided {self.__name__}>"


class Driver:
    """Carries out requests against a namespace (the notebook's ``user_ns``)."""

    def __init__(self, namespace_getter, ask=None):
        self._namespace = namespace_getter
        self._ask = ask                      # ask(text) -> text: a request to the grader (oracles)
        self.handles: dict = {}
        self.codec = Codec(self.handles, self._resolve)
        self.bound: dict = {}                # name -> previous value (or _MISSING) while oracles are bound

    # --- resolving what the grader sent ------------------------------------------------------
    def _resolve(self, tag: dict):
        torch = _torch()
        if "$ref" in tag:
            n = tag["$ref"]
            if type(n) is not int or n not in self.handles:
                raise ProbeError(f"알 수 없는 핸들 {n!r}")
            return self.handles[n]
        if "$name" in tag:
            name = str(tag["$name"])
            ns = self._namespace()
            if name not in ns:
                raise NameError(f"name '{name}' is not defined")
            return ns[name]
        if "$part" in tag:
            from . import probe_parts
            name = str(tag["$part"])
            if name.startswith("_") or not hasattr(probe_parts, name):
                raise ProbeError(f"알 수 없는 검사용 부품 {name!r}")
            return getattr(probe_parts, name)
        if "$gen" in tag:
            return torch.Generator().manual_seed(int(tag["$gen"]))
        if "$oracle" in tag:
            return Oracle(self, dict(tag["$oracle"]))
        raise ProbeError(f"알 수 없는 태그 {sorted(tag)[:3]}")

    # --- entry points ------------------------------------------------------------------------
    def handle_text(self, text: str) -> str:
        """One request in, one answer out (both as :func:`pack` text)."""
        blobs_out: list = []
        try:
            payload, blobs = unpack(text)
            result = self.dispatch(payload, blobs)
            answer = {"ok": True, "result": self.codec.encode(result, blobs_out)}
        except BaseException as err:  # noqa: BLE001 - whatever the student's code raised is an answer
            if isinstance(err, KeyboardInterrupt):
                answer = {"ok": False, "error": {"type": "KeyboardInterrupt", "message": "중단됨 (interrupted)"}}
            else:
                answer = {"ok": False, "error": describe(err)}
            blobs_out = []
        try:
            return pack(answer, blobs_out)
        except BaseException as err:  # noqa: BLE001 - e.g. an answer too large
            return pack({"ok": False, "error": describe(err)}, [])

    def dispatch(self, req: dict, blobs: list):
        op = req.get("op")
        dec = lambda v: self.codec.decode(v, blobs)  # noqa: E731
        fn = getattr(self, f"op_{op}", None) if type(op) is str else None
        if fn is None:
            raise ProbeError(f"알 수 없는 요청 {op!r}")
        return fn(req, dec)

    # --- operations ----------------------------------------------------------------------------
    def op_ping(self, req, dec):
        return "pong"

    def op_value(self, req, dec):
        """The value itself (decoded from the request, e.g. a name): a handle or plain data."""
        return Keep(dec(req["target"])) if req.get("keep") else dec(req["target"])

    def op_call(self, req, dec):
        torch = _torch()
        target = dec(req["target"])
        if req.get("copy"):
            import copy as _copy
            target = _copy.deepcopy(target)
        if req.get("train") is not None:
            target.train(bool(req["train"]))
        method = req.get("method")
        fn = getattr(target, str(method)) if method else target
        args = dec(req.get("args", {"$list": []}))
        kwargs = dec(req.get("kwargs", {"$dict": []}))
        if req.get("seed") is not None:
            torch.manual_seed(int(req["seed"]))
        import contextlib
        ctx = contextlib.ExitStack()
        with ctx:
            if req.get("no_grad"):
                ctx.enter_context(torch.no_grad())
            if req.get("autocast"):
                ctx.enter_context(torch.autocast("cpu", dtype=getattr(torch, str(req["autocast"]))))
            out = fn(*args, **kwargs)
        result = {"out": Keep(out) if req.get("keep") else out}
        if req.get("fetch"):
            result["value"] = out
        if req.get("copy"):
            result["target"] = Keep(target)
        if req.get("return_args"):
            result["args"] = list(args)
            result["kwargs"] = dict(kwargs)
        if req.get("report_training"):
            result["training"] = bool(getattr(target, "training", False))
        return result

    def op_fb(self, req, dec):
        """Forward and backward in one request: call the target (a copy of it, with ``copy``) in
        train or eval mode with the floating tensors of ``args`` made leaves that require grad,
        then backward Σ sum(t_i · w_i) over the output's floating tensors with the given weights.
        Returns the output, the gradients of the leaves and of the parameters, the buffers."""
        import copy as _copy
        torch = _torch()
        target = dec(req["target"])
        if req.get("copy"):
            target = _copy.deepcopy(target)
        if req.get("train") is not None:
            target.train(bool(req["train"]))
        args = list(dec(req.get("args", {"$list": []})))
        kwargs = dec(req.get("kwargs", {"$dict": []}))
        leaves = [isinstance(a, torch.Tensor) and a.dtype.is_floating_point for a in args]
        args = [a.detach().clone().requires_grad_(True) if leaf else a for a, leaf in zip(args, leaves)]
        fn = getattr(target, str(req["method"])) if req.get("method") else target
        out = fn(*args, **kwargs)
        result = {"out": out, "target": Keep(target)}
        weights = dec(req.get("weights")) if req.get("weights") is not None else None
        if weights is not None:
            outs = [t for t in _flatten_tensors(out)[0] if t.dtype.is_floating_point]
            if len(outs) == len(weights) and all(tuple(o.shape) == tuple(w.shape) for o, w in zip(outs, weights)):
                terms = [(o * w.to(o.dtype)).sum() for o, w in zip(outs, weights) if o.requires_grad]
                if terms:
                    sum(terms).backward()
                    result["backward"] = True
                else:
                    result["backward"] = "no-graph"
            else:
                result["backward"] = "shape"
            result["input_grads"] = [a.grad.detach() if leaf and a.grad is not None else None
                                     for a, leaf in zip(args, leaves)]
            if isinstance(target, torch.nn.Module):
                result["param_grads"] = {n: (None if p.grad is None else p.grad.detach())
                                         for n, p in target.named_parameters()}
        if req.get("buffers") and isinstance(target, torch.nn.Module):
            result["buffers"] = {n: b.detach() for n, b in target.named_buffers()}
        return result

    def op_attr(self, req, dec):
        out = getattr(dec(req["target"]), str(req["name"]))
        return Keep(out) if req.get("keep") else out

    def op_setattr(self, req, dec):
        setattr(dec(req["target"]), str(req["name"]), dec(req["value"]))

    def op_item(self, req, dec):
        out = dec(req["target"])[dec(req["key"])]
        return Keep(out) if req.get("keep") else out

    def op_len(self, req, dec):
        return len(dec(req["target"]))

    def op_isinstance(self, req, dec):
        """Whether the target is an instance of a named torch class (e.g. "nn.ModuleList")."""
        torch = _torch()
        obj = dec(req["target"])
        names = {"nn.Module": torch.nn.Module, "nn.ModuleList": torch.nn.ModuleList,
                 "nn.Identity": torch.nn.Identity, "nn.Sequential": torch.nn.Sequential,
                 "nn.Parameter": torch.nn.Parameter, "Tensor": torch.Tensor, "type": type}
        return isinstance(obj, names[str(req["cls"])])

    def op_leaf(self, req, dec):
        """A tensor that requires grad, kept here so that gradients can be asked for later."""
        x = dec(req["value"]).detach().clone().requires_grad_(True)
        return Keep(x)

    def op_copy(self, req, dec):
        import copy as _copy
        return Keep(_copy.deepcopy(dec(req["target"])))

    def op_state(self, req, dec):
        """state_dict of a module: values, or only (shape, dtype) when ``layout``."""
        sd = dec(req["target"]).state_dict()
        if req.get("layout"):
            return {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in sd.items()}
        return {k: v.detach() for k, v in sd.items()}

    def op_load_state(self, req, dec):
        torch = _torch()
        module = dec(req["target"])
        state = dec(req["state"])
        with torch.no_grad():
            result = module.load_state_dict(state, strict=bool(req.get("strict", True)))
        return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)}

    def op_named(self, req, dec):
        """Named parameters (with their gradients) or buffers of a module."""
        module = dec(req["target"])
        what = req.get("what", "grads")
        if what == "grads":
            return {n: (None if p.grad is None else p.grad.detach()) for n, p in module.named_parameters()}
        if what == "params":
            return {n: p.detach() for n, p in module.named_parameters()}
        if what == "requires_grad":
            return {n: bool(p.requires_grad) for n, p in module.named_parameters()}
        if what == "buffers":
            return {n: b.detach() for n, b in module.named_buffers()}
        if what == "modules":
            return {n: type(m).__name__ for n, m in module.named_modules()}
        raise ProbeError(f"알 수 없는 종류 {what!r}")

    def op_backward(self, req, dec):
        """backward of Σ sum(t_i · w_i) over the floating-point tensors t_i of the given outputs
        (kept results, flattened in order: tuples, lists and dict values)."""
        torch = _torch()
        outs = [t for o in dec(req["outputs"]) for t in _flatten_tensors(o)[0] if t.dtype.is_floating_point]
        weights = list(dec(req["weights"]))
        if len(outs) != len(weights):
            raise ProbeError(f"출력 텐서가 {len(weights)}개여야 하는데 {len(outs)}개입니다")
        total = None
        for o, w in zip(outs, weights):
            if tuple(o.shape) != tuple(w.shape):
                raise ProbeError(f"출력 모양 {tuple(o.shape)}이(가) 기대한 {tuple(w.shape)}와 다릅니다")
            if not o.requires_grad:
                continue
            term = (o * w.to(o.dtype)).sum()
            total = term if total is None else total + term
        if total is None:
            raise GraphError("출력이 입력에 대한 그래디언트를 갖지 않습니다 (계산 그래프가 끊겼습니다: "
                             "detach, .item(), numpy 변환, torch.no_grad 등을 확인하세요).")
        total.backward()

    def op_grad(self, req, dec):
        x = dec(req["target"])
        return None if x.grad is None else x.grad.detach()

    def op_zero_grad(self, req, dec):
        dec(req["target"]).zero_grad(set_to_none=True)

    def op_seed(self, req, dec):
        _torch().manual_seed(int(req["seed"]))

    def op_bind(self, req, dec):
        """Bind names of the notebook namespace (e.g. to oracles) until ``unbind``."""
        ns = self._namespace()
        for name, value in dec(req["names"]).items():
            if name not in self.bound:
                self.bound[name] = ns.get(name, _MISSING)
            ns[name] = value

    def op_unbind(self, req, dec):
        ns = self._namespace()
        for name, old in self.bound.items():
            if old is _MISSING:
                ns.pop(name, None)
            else:
                ns[name] = old
        self.bound.clear()

    def op_release(self, req, dec):
        self.handles.clear()

    # --- oracles -------------------------------------------------------------------------------
    def oracle_call(self, spec: dict, args, kwargs):
        torch = _torch()
        if self._ask is None:
            raise ProbeError("채점기와 연결되어 있지 않습니다 (no grader to ask)")
        flat, rebuild = _flatten_tensors((args, kwargs))
        needs = [bool(t.requires_grad) for t in flat]
        a, kw = rebuild([t.detach() for t in flat])
        reply = self._ask_grader({"op": "oracle", "spec": spec, "args": a, "kwargs": kw, "needs_grad": needs})
        out_flat, out_rebuild = _flatten_tensors(reply["result"])
        if not (torch.is_grad_enabled() and any(needs)) or not out_flat:
            return out_rebuild(out_flat)
        ask, call_id = self._ask_grader, reply["call"]

        class OracleFunction(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                for t in out_flat:
                    if not (t.dtype.is_floating_point or t.dtype.is_complex):
                        ctx.mark_non_differentiable(t)
                return tuple(out_flat)

            @staticmethod
            def backward(ctx, *grads):
                answer = ask({"op": "oracle_backward", "spec": spec, "call": call_id, "grads": list(grads)})
                got = list(answer["grads"])[: len(flat)]
                got += [None] * (len(flat) - len(got))
                return tuple(g if isinstance(g, torch.Tensor) else None for g in got)

        outs = OracleFunction.apply(*flat)
        return out_rebuild(list(outs) if isinstance(outs, tuple) else [outs])

    def _ask_grader(self, payload: dict):
        blobs: list = []
        text = pack({k: self.codec.encode(v, blobs) for k, v in payload.items()}, blobs)
        answer, ablobs = unpack(self._ask(text))
        if not answer.get("ok"):
            err = answer.get("error", {})
            raise ProbeError(str(err.get("message", "채점기 오류")))
        return Codec().decode(answer["result"], ablobs)


class GraphError(Exception):
    """The outputs carry no gradient (the graph was cut)."""


_MISSING = object()


class Keep:
    """Marks a result that stays in the kernel (returned as a handle, even if it is data)."""

    def __init__(self, value):
        self.value = value


def _flatten_tensors(tree):
    """The tensors of a nested structure and a function that puts replacements back."""
    torch = _torch()
    flat = []

    def walk(node):
        if isinstance(node, torch.Tensor):
            flat.append(node)
            return ("T", len(flat) - 1)
        if type(node) in (tuple, list):
            return (type(node).__name__, [walk(v) for v in node])
        if type(node) is dict:
            return ("dict", [(k, walk(v)) for k, v in node.items()])
        return ("C", node)

    shape = walk(tree)

    def build(node, values):
        kind, data = node
        if kind == "T":
            return values[data]
        if kind == "tuple":
            return tuple(build(v, values) for v in data)
        if kind == "list":
            return [build(v, values) for v in data]
        if kind == "dict":
            return {k: build(v, values) for k, v in data}
        return data

    return flat, (lambda values: build(shape, values))


def describe(err: BaseException) -> dict:
    """The type and (shortened) message of an exception raised by the student's code."""
    try:
        message = str(err)
    except Exception:  # noqa: BLE001
        message = "(메시지를 읽을 수 없습니다)"
    return {"type": type(err).__name__, "message": message[:500],
            "not_implemented": isinstance(err, NotImplementedError),
            "graph": isinstance(err, GraphError)}


# --------------------------------------------------------------------------------------------
# in a Jupyter kernel
# --------------------------------------------------------------------------------------------
_KERNEL_DRIVER: Driver | None = None


def _kernel_driver() -> Driver:
    global _KERNEL_DRIVER
    if _KERNEL_DRIVER is None:
        from IPython import get_ipython

        shell = get_ipython()
        _KERNEL_DRIVER = Driver(lambda: shell.user_ns, ask=lambda text: input(ORACLE_PROMPT + text))
    return _KERNEL_DRIVER


ORACLE_PROMPT = "\x00dlcourse-oracle\x00"


def serve(text: str) -> None:
    """Entry point the grader executes in the kernel: answer one request as display data."""
    from IPython.display import publish_display_data

    answer = _kernel_driver().handle_text(text)
    publish_display_data({MIME: answer})
