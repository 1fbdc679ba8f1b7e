"""The trusted judge: plain-data wire format, proxies, and verdicts against a real forked student process.

The student's side here is a plain Python process running `tito.judge.server.serve`
over a namespace made by exec'ing the "student" code, exactly what the last cell of a
judged notebook does in its kernel; the notebook-level tests are in test_judge_attacks.py.
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import REPO
from tito.judge.judge import Judge, JudgeReport
from tito.judge.trusted import TrustedSetup
from tito.judge.modes import MODE_ENV
from tito.judge.signs import assigned_names
from tito.judge.proxy import JudgeCodec
from tito.judge.wire import (LARGE_BUFFER_BYTES, MAX_HEADER_BYTES, Codec, ConnectionLost, Pieces, ProtocolError,
                             RemoteError, encode_error, rebuild_error, recv_frame, send_frame)

# ---------------------------------------------------------------- values

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                    st.binary(max_size=20), st.complex_numbers(allow_nan=False))
arrays = hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.bool_, np.complex64]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
values = st.recursive(st.one_of(scalars, arrays), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4)), max_leaves=12)


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
                  shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)), st.booleans())
def test_an_array_is_sent_as_the_bytes_numpy_save_writes(array, transposed):
    """The header from NumPy's writer, then the array's own memory: byte for byte what `np.save` writes."""
    import io

    from tito.judge.wire import array_from_bytes, array_to_bytes

    array = array.T if transposed else array  # not C-contiguous: sent in C order
    sent = b"".join(array_to_bytes(array).parts)
    saved = io.BytesIO()
    np.save(saved, np.ascontiguousarray(array) if array.ndim else array, allow_pickle=False)
    assert sent == saved.getvalue()
    got = array_from_bytes(bytearray(sent))
    assert got.dtype == array.dtype and got.shape == array.shape and got.tobytes() == np.ascontiguousarray(array).tobytes()


def as_received(buffers: list) -> list:
    """The buffers of an encoded message as the other side receives them: each one block of bytes."""
    return [bytearray(b"".join(b.parts) if type(b) is Pieces else b) for b in buffers]


@settings(max_examples=150, deadline=None)
@given(values)
def test_plain_values_survive_the_wire(value):
    codec = Codec()
    tree, buffers = codec.encode(value)
    json.dumps(tree)  # the header is JSON, nothing else
    assert same(codec.decode(json.loads(json.dumps(tree)), as_received(buffers)), value)


@given(st.sampled_from([np.float32(1.5), np.int16(-3), np.dtype("float32"), np.float64, slice(1, None, 2),
                        Ellipsis, range(2, 9, 3), frozenset({1, 2}), float, str]))
def test_numpy_scalars_dtypes_and_builtins_keep_their_type(value):
    codec = Codec()
    tree, buffers = codec.encode(value)
    got = codec.decode(tree, as_received(buffers))
    assert got == value and type(got) is type(value)


def test_object_arrays_are_never_unpickled():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError, match="unreadable array"):
        Codec().decode({"$": "array", "b": 0, "scalar": False}, [buffer.getvalue()])
    with pytest.raises(TypeError, match="cannot be handed to the student's code"):
        JudgeCodec(session=None).encode(np.array([object()], dtype=object))


def test_arrays_cross_a_socket_as_writable_views_of_what_was_received():
    arrays = [np.arange(12, dtype=np.float32).reshape(3, 4), np.asfortranarray(np.arange(6.0).reshape(2, 3)),
              np.array(7, dtype=np.int16), np.zeros((0, 5)), np.arange(200_000, dtype=np.int64)]  # the last one: 1.6 MB
    blob = bytes(range(256)) * (LARGE_BUFFER_BYTES // 256 + 1)  # received into the buffers kept for large values
    codec = Codec()
    tree, buffers = codec.encode([*arrays, blob])
    a, b = socket.socketpair()
    with a, b:
        sender = threading.Thread(target=send_frame, args=(a, {"v": tree}, buffers))
        sender.start()
        header, received = recv_frame(b)
        sender.join()
    *got, large_bytes = codec.decode(header["v"], received)
    assert type(large_bytes) is bytes and large_bytes == blob, "a large bytes value comes back as bytes"
    for sent, back in zip(arrays, got):
        assert back.dtype == sent.dtype and back.shape == sent.shape and np.array_equal(back, sent)
        if back.ndim:
            back[...] = 0  # a student's function may work in place on the arguments it got
    npy = io.BytesIO()
    np.save(npy, np.arange(4.0))
    for broken in (npy.getvalue()[:-1], npy.getvalue() + b"\0" * 8, b"not an npy file"):
        with pytest.raises(ProtocolError, match="unreadable array"):
            codec.decode({"$": "array", "b": 0, "scalar": False}, [broken])


@pytest.mark.parametrize("tree, message", [
    ({"$": "pickle", "v": "x"}, "unknown value kind"),
    ([1, 2], "not an encoded value"),
    ({"$": "ref", "id": 0}, "does not accept handles"),
    ({"$": "tuple", "v": "abc"}, "expected a list"),
])
def test_malformed_values_are_protocol_errors(tree, message):
    with pytest.raises(ProtocolError, match=message):
        Codec().decode(tree, [])


def test_oversized_and_broken_frames_are_refused():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("!II", MAX_HEADER_BYTES + 1, 0))
        with pytest.raises(ProtocolError, match="too large"):
            recv_frame(b)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("!II", 5, 0) + b"nope!")
        with pytest.raises(ProtocolError, match="unreadable message header"):
            recv_frame(b)
    a, b = socket.socketpair()
    with a, b:
        send_frame(a, {"x": [1, 2]}, [b"abc"])
        assert recv_frame(b) == ({"x": [1, 2]}, [b"abc"])
        a.close()
        with pytest.raises(ConnectionLost):
            recv_frame(b)


class CustomError(ValueError):
    pass


@pytest.mark.parametrize("raised, local_type, builtin", [
    (ValueError("shapes (2, 3) and (4,)"), ValueError, True),
    (NotImplementedError("stub"), NotImplementedError, True),
    (CustomError("custom"), ValueError, False),
    (SystemExit(3), RemoteError, False),
    (KeyboardInterrupt(), RemoteError, False),
])
def test_remote_exceptions_come_back_as_ordinary_exceptions(raised, local_type, builtin):
    rebuilt = rebuild_error(json.loads(json.dumps(encode_error(raised))))
    assert isinstance(rebuilt, local_type) and isinstance(rebuilt, Exception)
    assert (type(rebuilt) is local_type) == builtin
    assert type(rebuilt).__name__ == type(raised).__name__
    assert str(rebuilt) == str(raised)


# ---------------------------------------------------------------- a real student process

STUDENT = '''
import os, sys, time, threading
import numpy as np

class Box:
    """A student class: state, operators, a context manager."""
    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float32)
    def __add__(self, other):
        return Box(self.values + (other.values if isinstance(other, Box) else other))
    __radd__ = __add__
    def __len__(self):
        return len(self.values)
    def __getitem__(self, i):
        return float(self.values[i])
    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)
    def __enter__(self):
        self.entered = True
        return self
    def __exit__(self, *exc):
        self.entered = False
    def __repr__(self):
        return f"Box({self.values.tolist()})"

Alias = Box
calls = 0

def double(x):
    global calls
    calls += 1
    return np.asarray(x) * 2

def relu_inplace(x):
    np.maximum(x, 0, out=x)

def map_in_threads(func, items):
    results = [None] * len(items)
    def work(i):
        results[i] = func(items[i])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(items))]
    for t in threads: t.start()
    for t in threads: t.join()
    return results

def uses_double(x):
    return double(x) + 1

def patch_numpy():
    np.sum = lambda *a, **k: 42

def numpy_sum(x):
    return np.sum(x)

def shout(text):
    print(text.upper())

def forever():
    while True:
        pass

def die():
    os._exit(7)

def seeded_draw():
    return np.random.random()

def thread_id():
    return threading.get_ident()

def is_main_thread():
    return threading.current_thread() is threading.main_thread()

def start_spinner():
    """A busy Python thread: it takes the GIL whenever the main thread lets go of it."""
    threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=True).start()

def with_callback(func):
    return threading.get_ident(), func()
'''

SETUP = "import contextlib\nimport io\nimport threading\nimport numpy as np\nfrom tito.tools.judging import plain\n"


def judge(tests: dict[str, str], student: str = STUDENT, timeout: float = 20,
          names: list[str] | None = None, setup: str = SETUP, mode: str | None = None) -> JudgeReport:
    """Run `tests` ({grade_id: source}) in a Judge against a process that exec'd `student` and serves.
    `names`: the student names the tests see (the trusted copy's solution names); default: what
    `student` defines at its top level."""
    judge = Judge(timeout)
    code = textwrap.dedent(f"""
        from tito.judge.server import serve
        namespace = {{"__name__": "__main__"}}
        exec({student!r}, namespace)
        serve("127.0.0.1", {judge.port}, {judge.token!r}, namespace)
    """)
    env = dict(os.environ, **({MODE_ENV: mode} if mode else {}))
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    report = JudgeReport()
    watcher = threading.Thread(target=lambda: (process.wait(), judge.kernel_finished.set()), daemon=True)
    watcher.start()
    try:
        student_names = sorted(assigned_names(student)) if names is None else names
        judge.run(list(tests.items()), TrustedSetup(setup, student_names), report)
    finally:
        process.kill()
        process.wait()
        judge.listener.close()
    return report


def verdicts(report: JudgeReport) -> dict[str, tuple[bool, str]]:
    return {v.grade_id: (v.passed, v.message) for v in report.verdicts}


def test_proxies_behave_like_the_objects_they_stand_for():
    report = judge({"objects": textwrap.dedent("""
        b = Box([1.0, -2.0, 3.0])
        assert isinstance(b, Box) and not isinstance(3, Box) and Alias is Box
        assert plain(b.values.shape) == (3,) and b[2] == 3.0
        total = b + 1
        assert isinstance(total, Box) and np.array_equal(np.asarray(total), [2.0, -1.0, 4.0])
        flipped = 1 + b
        assert np.allclose(flipped, [2.0, -1.0, 4.0])
        assert repr(b) == "Box([1.0, -2.0, 3.0])" and f"{b!r:.4}" == "Box("
        assert b.values.dtype == np.float32 and np.asarray(b, dtype=np.float64).dtype == np.float64
        with b as inside:
            assert inside.entered
        assert plain(b.entered) is False
        b.label = "kept"
        assert plain(b.label) == "kept"
        assert np.array_equal(double(np.arange(3)), [0, 2, 4]) and plain(calls) == 1
    """)})
    assert verdicts(report) == {"objects": (True, "")}, report


def test_failures_carry_the_test_message_and_remote_errors_their_type():
    report = judge({
        "assert": "assert double(2) == 5, 'double(2) should be 5'",
        "remote": "Box('not numbers')",
        "missing": "undefined_name(1)",
        "caught": "try:\n    Box('x')\nexcept ValueError as err:\n    assert 'could not convert' in str(err)",
    })
    got = verdicts(report)
    assert got["assert"] == (False, "double(2) should be 5")
    assert got["remote"][0] is False and got["remote"][1].startswith("ValueError: could not convert")
    assert got["missing"] == (False, "NameError: name 'undefined_name' is not defined")
    assert got["caught"] == (True, "")


def test_arguments_go_by_copy_and_a_test_asks_for_them_back():
    report = judge({"inplace": textwrap.dedent("""
        from tito.tools.judging import call_returning_arguments
        x = np.array([-1.0, 2.0, -3.0])
        relu_inplace(x)
        assert x.tolist() == [-1.0, 2.0, -3.0], f"the test's own array changed: {x}"
        result, (after,) = call_returning_arguments(relu_inplace, x)
        assert result is None and after.tolist() == [0.0, 2.0, 0.0] and x[0] == -1.0, (result, after, x)
    """)})
    assert verdicts(report) == {"inplace": (True, "")}, report


def test_callbacks_run_in_the_judge_concurrently_and_nest():
    report = judge({"callbacks": textwrap.dedent("""
        meeting = threading.Barrier(3, timeout=10)  # three student threads inside judge functions at once
        def record(item):
            meeting.wait()
            return item * 10
        assert map_in_threads(record, [1, 2, 3]) == [10, 20, 30]
        assert map_in_threads(lambda x: double(x).tolist(), [[1], [2]]) == [[2], [4]]  # judge -> student -> judge -> student
        assert map_in_threads(sum, [[1, 2], [3]]) == [3, 3]  # a library function runs in the student's process
        outer, inner = with_callback(lambda: thread_id())
        assert outer == inner, "a call nested in a callback runs in the thread that made the callback"
        assert is_main_thread(), "the code under test runs in the main thread, as in the notebook"
    """)})
    assert verdicts(report) == {"callbacks": (True, "")}, report


def test_each_test_gets_a_fresh_copy_of_the_student_process():
    report = judge({
        "patch": "patch_numpy()\nassert numpy_sum([1, 2]) == 42",
        "after": "assert numpy_sum([1, 2]) == 3, 'a patch made during another test leaked into this one'",
        "count": "double(1)\ndouble(1)\nassert plain(calls) == 2, calls",
        "recount": "double(1)\nassert plain(calls) == 1, f'calls from another test leaked: {calls}'",
    })
    assert verdicts(report) == {g: (True, "") for g in ("patch", "after", "count", "recount")}, report


def test_rebinding_a_student_name_reaches_the_student_process_and_is_undone():
    report = judge({
        "spy": textwrap.dedent("""
            seen = []
            original = globals()["double"]
            def spy(x):
                seen.append(x)
                return original(x)
            globals()["double"] = spy
            try:
                assert uses_double(5) == 11
            finally:
                globals()["double"] = original
            assert seen == [5], seen
            assert uses_double(1) == 3 and seen == [5], "the original double should be back"
        """),
        "forgotten": "globals()['double'] = lambda x: -1\nassert uses_double(1) == 0",
        "next": "assert uses_double(1) == 3, 'a rebinding left in place by another test leaked into this one'",
    })
    assert verdicts(report) == {"spy": (True, ""), "forgotten": (True, ""), "next": (True, "")}, report


def test_student_output_reaches_a_test_that_captures_it():
    report = judge({"print": textwrap.dedent("""
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            shout("hello")
        assert buffer.getvalue() == "HELLO\\n", repr(buffer.getvalue())
        shout("not captured")
    """)})
    assert verdicts(report) == {"print": (True, "")}, report


def test_in_student_process_reaches_the_student_modules():
    report = judge({"seed": textwrap.dedent("""
        from tito.tools.judging import in_student_process
        student_numpy = in_student_process("numpy")
        student_numpy.random.seed(3)
        first = seeded_draw()
        student_numpy.random.seed(3)
        assert seeded_draw() == first
        np.random.seed(4)  # the judge's own generator: not the student's
        assert seeded_draw() != first
    """)})
    assert verdicts(report) == {"seed": (True, "")}, report


def test_requests_one_after_another_all_run_in_the_students_main_thread():
    """The judge sends its next request the moment it has a reply: that request must still find the
    student's main thread free (a thread of its own would, for one, escape OpenBLAS's thread limit)."""
    report = judge({"main": textwrap.dedent("""
        start_spinner()  # contention for the GIL, as a parallel kernel's threads make it
        where = [is_main_thread() for _ in range(300)]
        assert all(where), f"{where.count(False)} of 300 calls ran outside the student's main thread"
    """)}, timeout=60)
    assert verdicts(report) == {"main": (True, "")}, report


def test_an_endless_or_dying_call_fails_its_test_and_the_next_test_still_runs():
    report = judge({"endless": "forever()", "dies": "die()", "after": "assert double(3) == 6"}, timeout=3)
    got = verdicts(report)
    assert got["endless"][0] is False and got["endless"][1].startswith("timed out: the test ran past its 3 s limit")
    assert got["dies"][0] is False and "died" in got["dies"][1]
    assert got["after"] == (True, "")


def test_a_process_that_never_serves_fails_every_test():
    report = judge({"a": "double(1)", "b": "pass"}, student="raise SystemExit('no judge for me')")
    assert not report.handed_over
    assert [v.passed for v in report.verdicts] == [False, False]
    assert all(v.message.startswith("not run: the notebook's process never reached the judge") for v in report.verdicts)


def test_resident_inputs_are_placed_once_and_their_results_stay_in_the_student_process():
    report = judge({"resident": textwrap.dedent("""
        from tito.tools.judging import resident
        from tito.judge.proxy import RemoteObject
        a = np.arange(6.0).reshape(2, 3)
        (placed,) = resident(a)
        assert isinstance(placed, RemoteObject) and plain(placed.shape) == (2, 3)
        result = double(placed)
        assert isinstance(result, RemoteObject), "a call on placed inputs keeps its result in the student's process"
        assert np.array_equal(np.asarray(result), a * 2) and result[1, 2] == 10.0
        assert isinstance(double(a), np.ndarray), "a call on ordinary arrays returns an array"
    """)})
    assert verdicts(report) == {"resident": (True, "")}, report


def test_resident_is_the_identity_outside_the_judge():
    from tito.tools.judging import in_student_process, resident

    a = np.ones(3)
    assert resident(a)[0] is a
    assert in_student_process("math") is __import__("math")


def test_in_process_mode_gives_the_verdicts_of_fork_mode_for_honest_tests():
    """Where fork is missing or unsafe the tests run in the notebook's process itself, its names put back
    after each test: the same verdicts, and an endless call ends that process's part (the judge then
    runs the notebook again for the tests after it, in `judge_notebook`)."""
    tests = {
        "objects": "b = Box([1.0, 2.0])\nassert plain((b + 1).values).tolist() == [2.0, 3.0]",
        "rebind": "globals()['double'] = lambda x: -1\nassert uses_double(1) == 0",
        "restored": "assert uses_double(1) == 3, 'the rebinding of the test before leaked'",
        "count": "double(1)\nassert plain(calls) == 1, calls",
        "recount": "double(1)\nassert plain(calls) == 1, f'the count of the test before leaked: {calls}'",
        "failing": "assert double(2) == 5, 'double(2) should be 5'",
    }
    forked, in_process = judge(tests), judge(tests, mode="in-process")
    assert in_process.mode == "in-process" and forked.mode == "fork", (in_process.mode, forked.mode)
    assert verdicts(in_process) == verdicts(forked), (verdicts(in_process), verdicts(forked))
    assert [g for g, (ok, _) in verdicts(forked).items() if not ok] == ["failing"]

    stuck = judge({"endless": "forever()", "after": "assert double(3) == 6"}, timeout=3, mode="in-process")
    endless, after = stuck.verdicts
    assert endless.lost_process and endless.message.startswith("timed out"), endless
    assert after.error_type == "NotRun" and not after.passed, after


def test_expect_raises_names_what_is_missing():
    from tito.tools.judging import expect_raises

    assert expect_raises(ValueError, lambda: int("x"), what="int of x", naming=["'x'"]) == \
        "invalid literal for int() with base 10: 'x'"
    with pytest.raises(AssertionError, match="^int of 1 should raise ValueError or TypeError$"):
        expect_raises((ValueError, TypeError), lambda: int("1"), what="int of 1")
    with pytest.raises(AssertionError, match="int of x: the error should name shape, got: invalid literal"):
        expect_raises(ValueError, lambda: int("x"), what="int of x", naming=["shape"])
    with pytest.raises(KeyError):  # another exception is not swallowed
        expect_raises(ValueError, lambda: {}["k"], what="a missing key")
