"""The grader's wire: calls that cross from the grader to a submission's kernel as plain data.

The grader (the judge) never runs student code. It runs an exercise's self-check in its own
process and hands the check a :class:`Remote` in place of the student's function; calling it
sends the arguments, as data, to the student's kernel in the sandbox, which calls the student's
function there and sends back what it returned, as data. What may cross is data only: None,
booleans, numbers, short strings, lists, tuples, dicts with string keys, NumPy arrays of numbers
and NumPy random generators (their state). An argument the grader's side cannot send as data (a
function the check passes, such as the loss of a gradient check) crosses as a handle: calling it
in the kernel calls back into the grader, again with data only. Arrays, lists of arrays and
generators given as arguments come back after the call, so that a function that updates its
arguments in place does so on the grader's side too.

Messages are length-prefixed JSON; a message over :data:`LIMIT` bytes, or one that is not what
this module writes, is refused. This file is imported by the grader and, inside the sandbox, by
the kernel: it depends on the standard library and NumPy only.
"""

from __future__ import annotations

import base64
import decimal
import json
import math
import numbers
import os
import select
import struct
import time
import traceback

import numpy as np

LIMIT = 64 * 2**20  # bytes per message
CALLS_BACK = 1_000  # calls back the other side may make during one call
TEXT = 2000  # characters kept of a string or an error message
KINDS = "biuf"  # bool, int, unsigned, float: the array dtypes that may cross


class WireError(BaseException):
    """The other side sent something that is not a valid message, sent nothing in time, or left.
    Not an ``Exception``: a self-check that catches the student's errors lets it through."""


class RemoteError(Exception):
    """The student's function raised; ``kind`` is its exception's class name, ``inner`` the function
    it was raised in, ``line`` the student's line, when known."""

    def __init__(self, kind: str, message: str, inner: str = "", line: str = ""):
        super().__init__(message)
        self.kind, self.inner, self.line = kind, inner, line


# --- values as data ------------------------------------------------------------------------------


def encode(value, handle=None, depth: int = 0):
    """``value`` as JSON-able data; anything else goes to ``handle(value)`` (a reference) or raises
    ``TypeError``."""
    if depth > 20:
        raise TypeError("nested too deep")
    if value is None or isinstance(value, (bool, str)):
        return value[:TEXT] if isinstance(value, str) else value
    if isinstance(value, np.generic) and value.dtype.kind in KINDS:  # NumPy scalars, long double included
        value = bool(value) if value.dtype.kind == "b" else int(value) if value.dtype.kind in "iu" \
            else float(value)
        return encode(value, handle, depth + 1)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) or (handle is None and isinstance(value, numbers.Real)):  # Fraction, ...
        value = float(value)
        return value if math.isfinite(value) else {"__float__": "nan" if value != value else
                                                   "inf" if value > 0 else "-inf"}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in KINDS:
            raise TypeError(f"an array of {value.dtype}")
        if value.nbytes > LIMIT // 2:
            raise TypeError(f"an array of {value.nbytes} bytes, over the limit of {LIMIT // 2}")
        data = np.ascontiguousarray(value)
        return {"__nd__": data.dtype.str, "shape": list(data.shape),
                "data": base64.b64encode(data.tobytes()).decode("ascii")}
    if isinstance(value, np.random.Generator):
        return {"__rng__": type(value.bit_generator).__name__, "state": _plain(value.bit_generator.state)}
    if isinstance(value, range):
        value = list(value)
    if isinstance(value, (list, tuple)):
        return {"__seq__": "tuple" if isinstance(value, tuple) else "list",
                "items": [encode(v, handle, depth + 1) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, handle, depth + 1) for k, v in value.items()}}
    if handle is not None:
        return {"__ref__": handle(value)}
    array = _as_array(value)  # a tensor or another array-like, read as a check would read it
    if array is not None:
        return encode(array, None, depth + 1)
    raise TypeError(f"a {type(value).__name__}")


def _as_array(value):
    """A PyTorch or TensorFlow tensor, or an object NumPy can read as an array of numbers, as a NumPy
    array (on the side that runs the student's code); None for anything else."""
    if not (hasattr(value, "__array__") or hasattr(value, "__array_interface__") or hasattr(value, "detach")
            or isinstance(value, decimal.Decimal)):
        return None
    try:
        if hasattr(value, "detach") and hasattr(value, "cpu"):
            value = value.detach().cpu()
        array = np.asarray(value)
        if array.dtype == object:  # Decimal and the like: numbers NumPy reads as floats
            array = array.astype(np.float64)
    except Exception:
        return None
    return array if array.dtype.kind in KINDS else None


def _plain(state):
    return {k: _plain(v) if isinstance(v, dict) else int(v) if isinstance(v, (int, np.integer)) else v
            for k, v in state.items()}


def decode(obj, stub=None, depth: int = 0):
    """The value ``obj`` (from :func:`encode`) stands for; ``stub(ref)`` makes what a reference
    stands for. Anything else raises ``WireError``."""
    try:
        return _decode(obj, stub, depth)
    except WireError:
        raise
    except Exception as err:  # a malformed value: a bad state, shape, encoding, ...
        raise WireError(f"malformed value ({type(err).__name__})") from None


def _decode(obj, stub=None, depth: int = 0):
    if depth > 20:
        raise WireError("nested too deep")
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if not isinstance(obj, dict):
        raise WireError(f"unexpected {type(obj).__name__}")
    if "__float__" in obj:
        text = obj["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise WireError("bad float")
        return float(text)
    if "__nd__" in obj:
        dtype = np.dtype(obj["__nd__"])
        if dtype.kind not in KINDS:
            raise WireError(f"array dtype {dtype}")
        shape = tuple(int(n) for n in obj["shape"])
        if len(shape) > 32 or any(n < 0 for n in shape):
            raise WireError("array size does not match its shape")
        raw = base64.b64decode(obj["data"], validate=True)
        if len(raw) != math.prod(shape) * dtype.itemsize:  # Python integers: no overflow
            raise WireError("array size does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "__rng__" in obj:
        kind = obj["__rng__"]
        if kind not in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"):
            raise WireError(f"bit generator {kind!r}")
        bits = getattr(np.random, kind)()
        bits.state = obj["state"]
        return np.random.Generator(bits)
    if "__seq__" in obj:
        items = [_decode(v, stub, depth + 1) for v in obj["items"]]
        return tuple(items) if obj["__seq__"] == "tuple" else items
    if "__dict__" in obj:
        return {str(k): _decode(v, stub, depth + 1) for k, v in obj["__dict__"].items()}
    if "__ref__" in obj and stub is not None:
        return stub(int(obj["__ref__"]))
    raise WireError("unknown value")


def after(args) -> list:
    """What the caller needs back of its arguments after a call: each array, each list of arrays
    (with, per entry, whether it is still the object given) and each generator's state."""
    back = []
    for value, original in args:
        if isinstance(value, np.ndarray):
            back.append(encode(value))
        elif isinstance(value, np.random.Generator):
            back.append(encode(value))
        elif isinstance(value, list) and original is not None:
            back.append({"__list__": [[encode(v) if isinstance(v, np.ndarray) else None,
                                       i < len(original) and v is original[i]] for i, v in enumerate(value)]})
        else:
            back.append(None)
    return back


def restore(args: list, back: list) -> None:
    """Apply :func:`after`'s ``back`` to the caller's ``args`` (in place), skipping what does not fit."""
    for value, new in zip(args, back):
        if new is None:
            continue
        if isinstance(value, np.ndarray) and isinstance(new, dict) and "__nd__" in new:
            got = decode(new)
            if got.shape == value.shape and value.flags.writeable:
                np.copyto(value, got, casting="unsafe")
        elif isinstance(value, np.random.Generator) and isinstance(new, dict) and "__rng__" in new:
            value.bit_generator.state = decode(new).bit_generator.state
        elif isinstance(value, list) and isinstance(new, dict) and "__list__" in new:
            entries = new["__list__"][:len(value) + 10]
            for i, (enc, same) in enumerate(entries):
                if enc is None:
                    continue
                got = decode(enc)
                kept = i < len(value) and isinstance(value[i], np.ndarray) and got.shape == value[i].shape
                if same and kept:
                    np.copyto(value[i], got, casting="unsafe")
                elif i < len(value):
                    value[i] = got
                else:
                    value.append(got)
            del value[len(entries):]


# --- one end of the wire -------------------------------------------------------------------------


class Endpoint:
    """One side of a pair of pipes: :meth:`call` a function on the other side, :meth:`serve` calls
    from it. ``resolve(target)`` finds what a call names on this side (a name in the kernel's
    namespace, or a handle); values this side cannot send as data become handles when
    ``handles`` is True (the grader's side)."""

    def __init__(self, rfd: int, wfd: int, resolve=None, handles: bool = False, timeout: float = 60):
        self.rfd, self.wfd, self.resolve, self.timeout = rfd, wfd, resolve, timeout
        self.objects: dict[int, object] = {}
        self.handles = handles
        self._buffer = bytearray()
        self.deadline = float("inf")  # no message is awaited past this time (time.monotonic())
        self._made: list[list] = []  # arguments of the calls this side is waiting for
        self._answering: list[list] = []  # (arguments, lists as given) of the calls it is running

    # framing
    def send(self, message: dict) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        if len(data) > LIMIT:
            raise WireError(f"message of {len(data)} bytes, over the limit of {LIMIT}")
        view = memoryview(struct.pack(">Q", len(data)) + data)
        deadline = min(time.monotonic() + self.timeout, self.deadline)
        while view:  # a side that stops reading cannot hold this one past its deadline
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireError("the other side stopped reading")
            _, ready, _ = select.select([], [self.wfd], [], min(left, 1.0))
            if ready:
                try:
                    view = view[os.write(self.wfd, view[:65536]):]
                except BlockingIOError:
                    continue

    def _read(self, n: int, deadline: float) -> bytes:
        while len(self._buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireError("no answer in time")
            ready, _, _ = select.select([self.rfd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    raise WireError("the other side left")
                self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def receive(self, timeout: float | None = None) -> dict:
        if time.monotonic() >= self.deadline:  # checked before every message, read ahead or not
            raise WireError("no answer in time")
        deadline = min(time.monotonic() + (self.timeout if timeout is None else timeout), self.deadline)
        (size,) = struct.unpack(">Q", self._read(8, deadline))
        if size > LIMIT:
            raise WireError(f"a message of {size} bytes, over the limit of {LIMIT}")
        try:
            message = json.loads(self._read(size, deadline))
        except (ValueError, RecursionError) as err:  # RecursionError: nested too deep for the parser
            raise WireError(f"not JSON ({type(err).__name__})") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise WireError("not a message")
        return message

    # values
    def _handle(self, value) -> int:
        if not self.handles:
            raise TypeError(f"a {type(value).__name__}")
        self._count = key = getattr(self, "_count", 0) + 1
        self.objects[key] = value
        return key

    def _stub(self, ref: int):
        endpoint = self

        class Handle:  # a function or object that lives on the other side
            def __call__(self, *args, **kwargs):
                return endpoint.call({"ref": ref}, args, kwargs)

            def __getattr__(self, name):
                if name.startswith("_"):
                    raise AttributeError(name)
                return lambda *args, **kwargs: endpoint.call({"ref": ref, "method": name}, args, kwargs)

        return Handle()

    # calls
    def call(self, target: dict, args=(), kwargs=None):
        """Call ``target`` on the other side with ``args``; serve its calls back meanwhile; return
        what it returned (the arrays and lists among ``args`` updated as the other side left them),
        or raise :class:`RemoteError`."""
        kwargs = kwargs or {}
        before = set(self.objects)
        message = {"op": "call", "target": target, "args": [encode(a, self._handle) for a in args],
                   "kwargs": {k: encode(v, self._handle) for k, v in kwargs.items()}}
        if self._answering:  # a call back: the caller's arguments as they are now (x being perturbed)
            message["sync"] = after(self._answering[-1])
        self.send(message)
        self._made.append(list(args))
        try:
            return self._wait(args)
        finally:
            self._made.pop()
            for key in set(self.objects) - before:  # a handle lives as long as the call it was made for
                del self.objects[key]

    def _wait(self, args):
        answered = 0
        while True:
            message = self.receive()
            op = message["op"]
            if op == "call":
                answered += 1
                if answered > CALLS_BACK:
                    raise WireError(f"over {CALLS_BACK} calls back during one call")
                self._answer(message)
            elif op == "return":
                try:
                    restore(list(args), list(message.get("after") or [])[:len(args)])
                except WireError:
                    raise
                except Exception as err:
                    raise WireError(f"malformed arguments back ({type(err).__name__})") from None
                return decode(message.get("value"), self._stub)
            elif op == "raise":
                kind, text, inner, line = (str(message.get(k, ""))[:TEXT]
                                           for k in ("kind", "message", "inner", "line"))
                raise RemoteError(kind or "Exception", text, inner, line)
            else:
                raise WireError(f"unexpected {op!r}")

    def _answer(self, message: dict) -> None:
        try:
            target = message.get("target") or {}
            if not isinstance(target, dict):
                raise NameError("not a function")
            if "ref" in target:
                fn = self.objects.get(target["ref"])
                if fn is None:
                    raise NameError("that function is no longer available: it was given for another call")
            else:
                fn = self.resolve(target) if self.resolve is not None else None
                if fn is None:
                    raise NameError(f"{str(target.get('name', 'that function'))[:100]} is not defined")
            if target.get("method") is not None:
                # only the methods the object lists: never attributes, dunders or the object's module
                method = str(target["method"])
                if method not in getattr(type(fn), "WIRE_METHODS", ()):
                    raise AttributeError(f"{type(fn).__name__}.{method[:100]} cannot be called from here")
                fn = getattr(fn, method)
            if message.get("sync") and self._made:
                restore(self._made[-1], list(message["sync"]))
            args = [decode(a, self._stub) for a in message.get("args", [])]
            kwargs = {str(k): decode(v, self._stub) for k, v in (message.get("kwargs") or {}).items()}
            originals = [list(a) if isinstance(a, list) else None for a in args]
            self._answering.append(list(zip(args, originals)))
            try:
                value = fn(*args, **kwargs)
            finally:
                self._answering.pop()
            try:
                encoded = encode(value)  # what a call returns is data, never a handle
            except TypeError as err:
                raise TypeError(f"returned {err}, not numbers, arrays or lists of them") from None
            reply = {"op": "return", "value": encoded, "after": after(list(zip(args, originals)))}
        except (KeyboardInterrupt, SystemExit, WireError):
            raise
        except BaseException as err:  # the function raised: its class, message and line cross
            reply = {"op": "raise", "kind": type(err).__name__, "message": str(err)[:TEXT], **_where(err)}
        self.send(reply)

    def serve(self, timeout: float | None = None) -> None:
        """Answer calls until the other side says ``bye`` or leaves."""
        while True:
            try:
                message = self.receive(timeout)
            except WireError:
                return
            if message["op"] == "bye":
                return
            if message["op"] == "call":
                self._answer(message)


def _where(err: BaseException) -> dict:
    """The innermost function ``err`` was raised in, and the last line of it in a notebook cell."""
    frames = traceback.extract_tb(err.__traceback__)
    inner = frames[-1].name if frames else ""
    line = ""
    for frame in frames:
        if "ipykernel" in frame.filename or frame.filename.startswith("<"):
            line = (frame.line or "").strip() or line
    return {"inner": inner[:200], "line": line[:300]}
