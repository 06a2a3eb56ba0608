"""The grader's wire (tools/wire.py): only data crosses, in both directions, and what a call does to
its arguments comes back; anything else is refused with a message. Two endpoints over pipes, one
served in a thread as the kernel would."""

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import grade  # noqa: E402
import wire  # noqa: E402


@pytest.fixture
def pair():
    """(grader's endpoint, the namespace the 'kernel' thread serves)."""
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    namespace = {}
    kernel = wire.Endpoint(b_r, b_w, resolve=lambda t: namespace.get(t.get("name")), timeout=5)
    thread = threading.Thread(target=kernel.serve, kwargs={"timeout": 5}, daemon=True)
    thread.start()
    grader = wire.Endpoint(a_r, a_w, handles=True, timeout=5)
    yield grader, namespace
    grader.send({"op": "bye"})
    thread.join(5)


def test_arrays_numbers_and_containers_round_trip(pair):
    grader, ns = pair
    ns["echo"] = lambda *a, **k: (a, k)
    value = [np.arange(6, dtype=np.float32).reshape(2, 3), 3, 2.5, float("nan"), True, None, "text",
             (np.int64(7), {"k": np.array([True, False])})]
    args, kwargs = grader.call({"name": "echo"}, value, {"key": np.eye(2)})
    assert args[0].dtype == np.float32 and np.array_equal(args[0], value[0])
    assert args[1:3] == (3, 2.5) and np.isnan(args[3]) and args[4:7] == (True, None, "text")
    assert args[7][0] == 7 and np.array_equal(args[7][1]["k"], [True, False])
    assert np.array_equal(kwargs["key"], np.eye(2))


def test_what_a_call_does_to_its_arguments_comes_back(pair):
    grader, ns = pair

    def update(params, x, rng):
        params[0] -= 1  # in place: the caller's array changes
        params[1] = params[1] * 2  # a new array in the list: the caller's list changes
        x[...] = 5
        rng.permutation(10)

    ns["update"] = update
    kept = np.ones(3)
    params, x, rng = [kept, np.ones(2)], np.zeros(4), np.random.default_rng(0)
    grader.call({"name": "update"}, (params, x, rng))
    expected_rng = np.random.default_rng(0)
    expected_rng.permutation(10)
    assert params[0] is kept and np.array_equal(kept, [0, 0, 0]) and np.array_equal(params[1], [2, 2])
    assert np.array_equal(x, [5, 5, 5, 5])
    assert rng.integers(1 << 30) == expected_rng.integers(1 << 30)  # the generator moved on as there


def test_a_function_given_as_argument_is_called_back_with_the_arguments_as_they_are(pair):
    grader, ns = pair

    def perturb(f, x):  # a numerical gradient: x is changed in place, f reads it
        out = []
        for i in range(len(x)):
            x[i] += 1
            out.append(f())
            x[i] -= 1
        return out

    ns["perturb"] = perturb
    x = np.arange(3.0)
    assert grader.call({"name": "perturb"}, (lambda: float(x.sum()), x)) == [4.0, 4.0, 4.0]
    assert np.array_equal(x, [0, 1, 2])


def test_an_error_crosses_as_its_class_message_and_line(pair):
    grader, ns = pair

    def broken(z):
        raise NotImplementedError("relu: not written yet")

    ns["relu"] = broken
    with pytest.raises(wire.RemoteError) as info:
        grader.call({"name": "relu"}, (np.zeros(2),))
    assert info.value.kind == "NotImplementedError" and info.value.inner == "broken"
    rebuilt = grade._rebuilt(info.value)
    assert isinstance(rebuilt, NotImplementedError) and rebuilt.remote_inner == "broken"
    with pytest.raises(wire.RemoteError, match="not defined"):
        grader.call({"name": "missing"}, ())


@pytest.mark.parametrize("returned, why", [
    (lambda: np.array([object()]), "array of object"),
    (lambda: object(), "a object"),
    (lambda: {1: 2}, "a dict"),
    (lambda: np.zeros(wire.LIMIT // 8 + 1), "over the limit"),
])
def test_what_is_not_data_is_refused_on_the_kernels_side(pair, returned, why):
    grader, ns = pair
    ns["f"] = returned
    with pytest.raises(wire.RemoteError, match=why):
        grader.call({"name": "f"}, ())


def test_the_grader_refuses_what_is_not_a_message():
    r, w = os.pipe()
    end = wire.Endpoint(r, w, timeout=2)
    os.write(w, (10).to_bytes(8, "big") + b"not json!!")
    with pytest.raises(wire.WireError, match="not JSON"):
        end.receive()
    os.write(w, (wire.LIMIT + 1).to_bytes(8, "big"))
    with pytest.raises(wire.WireError, match="over the limit"):
        end.receive()
    with pytest.raises(wire.WireError, match="bit generator|unknown"):
        wire.decode({"__rng__": "os.system", "state": {}})
    with pytest.raises(wire.WireError, match="dtype"):
        wire.decode({"__nd__": "|O", "shape": [1], "data": ""})
    with pytest.raises(wire.WireError, match="size"):
        wire.decode({"__nd__": "<f8", "shape": [3], "data": "AAAA"})
    with pytest.raises(wire.WireError, match="no answer in time"):
        wire.Endpoint(*os.pipe(), timeout=0.2).receive()


def test_a_tensor_or_an_array_like_crosses_as_an_array(pair):
    """The checks read what a function returns with np.asarray (tensors detached): so does the wire."""
    torch = pytest.importorskip("torch")
    grader, ns = pair

    class Wrapped:
        def __array__(self, dtype=None, copy=None):
            return np.arange(3.0)

    ns["tensor"] = lambda: torch.ones(2, 2, requires_grad=True) * 2
    ns["wrapped"] = lambda: Wrapped()
    assert np.array_equal(grader.call({"name": "tensor"}), np.full((2, 2), 2.0))
    assert np.array_equal(grader.call({"name": "wrapped"}), [0.0, 1.0, 2.0])


@pytest.mark.parametrize("value", [
    {"__nd__": "<f8", "shape": [2**32, 2**32, 0], "data": ""},  # a product that overflows int64
    {"__nd__": "<f8", "shape": [-1], "data": ""},
    {"__nd__": "<M8[s]", "shape": [1], "data": "AAAAAAAAAAA="},
    {"__nd__": "V10", "shape": [1], "data": "AAAAAAAAAAAAAA=="},
    {"__rng__": "PCG64", "state": {"bit_generator": "PCG64", "state": "nonsense"}},
    {"__seq__": "list", "items": 5},
    {"__dict__": [1, 2]},
    {"__float__": "1e999"},
    [1, 2, 3],
])
def test_a_malformed_value_is_a_wire_error(value):
    with pytest.raises(wire.WireError):
        wire.decode(value)


def test_nesting_too_deep_for_the_parser_is_a_wire_error():
    r, w = os.pipe()
    end = wire.Endpoint(r, w, timeout=2)
    data = b"[" * 100_000 + b"]" * 100_000
    threading.Thread(target=lambda: os.write(w, len(data).to_bytes(8, "big") + data), daemon=True).start()
    with pytest.raises(wire.WireError, match="not JSON"):
        end.receive()


def test_numbers_of_every_kind_cross_as_the_checks_read_them(pair):
    """What np.asarray(..., float) reads in a self-check reads the same after the wire."""
    from decimal import Decimal
    from fractions import Fraction

    grader, ns = pair
    values = [np.float64("nan"), np.float32(-np.inf), np.longdouble(0.25), np.int8(-3), np.bool_(True),
              Fraction(3, 4), Decimal("0.5"), 2**70]
    ns["values"] = lambda: values
    got = grader.call({"name": "values"})
    assert np.isnan(got[0]) and got[1] == -np.inf and got[2:] == [0.25, -3, True, 0.75, 0.5, 2**70]


def test_arguments_of_a_call_back_may_be_a_range(pair):
    grader, ns = pair
    seen = []

    def calls_back(f):
        return f(range(4))

    ns["calls_back"] = calls_back
    assert grader.call({"name": "calls_back"}, (lambda r: seen.append(r) or len(r),)) == 4
    assert seen == [[0, 1, 2, 3]]


def test_a_side_that_stops_reading_cannot_block_the_other():
    r, w = os.pipe()
    os.set_blocking(w, False)
    end = wire.Endpoint(os.pipe()[0], w, timeout=1)
    with pytest.raises(wire.WireError, match="stopped reading"):
        for _ in range(100):  # the pipe fills up and nobody reads it
            end.send({"op": "call", "data": "x" * 60_000})


def test_the_deadline_holds_for_messages_already_read_ahead():
    r, w = os.pipe()
    end = wire.Endpoint(r, w, timeout=5)
    frame = b'{"op":"bye"}'
    os.write(w, (len(frame).to_bytes(8, "big") + frame) * 3)
    assert end.receive()["op"] == "bye"
    end.deadline = 0  # passed: the two messages in the buffer are not served
    with pytest.raises(wire.WireError, match="in time"):
        end.receive()
