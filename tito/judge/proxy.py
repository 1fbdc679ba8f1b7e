"""Stand-ins, in the judge, for the objects of the student's process.

A graded test runs in the judge with each name the trusted copy's solution cells
define bound to a proxy. Using a proxy (calling it, reading an attribute, `+`,
`[i]`, `np.asarray`, `float`, `isinstance(x, StudentClass)`, `with`) sends one
request to the student's process and turns the answer back into a value: plain
data by value, anything else as another proxy. A function of the judge's handed to
student code (a test's lambda) becomes a callback the student's process can call.

A proxy never decides a verdict for the student: `==`, `!=`, ordering, `bool`,
`len`, `in` and iteration on a proxy raise `StudentObjectError`, since the
student's process would answer them. A test fetches plain values (`plain(x)`,
`np.asarray(x)`, `float(x)`) and compares them itself.

A proxy belongs to one session (one graded test's fork of the student's process).
Proxies of the student's global names are resolved again in every session.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tito.judge.peer import Peer
from tito.judge.wire import Codec, ProtocolError
from tito.tools.session import current, running

MAX_KEPT_OUTPUT = 64 * 1024
MAX_CALLBACK_NAME_CHARS = 100  # a judge function's name, as the student's process is told it


class StudentObjectError(TypeError):
    """A test asked an object of the student's process to decide something only the judge may decide."""


class JudgeCodec(Codec):
    def __init__(self, session: "JudgeSession"):
        self.session = session
        self.callbacks: list[Any] = []

    def make_ref(self, obj: Any) -> dict:
        if isinstance(obj, (RemoteObject, RemoteMeta)):
            glob = _global_name(obj)
            if glob is not None:  # looked up in the student's namespace when the request arrives
                return {"$": "ref", "global": glob}
            session, oid = _target(obj)
            if session is not self.session:
                raise RuntimeError("an object of an earlier test cannot be used in this one")
            return {"$": "ref", "id": oid}
        library = _library_path(obj)
        if library is not None:  # the student's process calls its own copy: time.sleep sleeps there
            return {"$": "lib", "v": library}
        if callable(obj):
            self.callbacks.append(obj)
            name = str(getattr(obj, "__name__", "callback"))[:MAX_CALLBACK_NAME_CHARS]
            return {"$": "cb", "id": len(self.callbacks) - 1, "name": name}
        raise TypeError(f"a {type(obj).__name__} cannot be handed to the student's code (only plain data, "
                        "arrays, functions and the student's own objects)")

    def resolve_ref(self, tree: dict) -> Any:
        if tree.get("$") != "ref":
            raise ProtocolError("the student's process cannot send judge callbacks")
        oid, kind, type_name = int(tree["id"]), str(tree.get("kind", "object")), str(tree.get("type", "object"))
        if kind == "class":
            return remote_class(type_name.rsplit(".", 1)[-1], session=self.session, oid=oid)
        obj = RemoteObject._make(self.session, oid, type_name)
        memory = tree.get("mem")
        if isinstance(memory, list):  # the student's word on where an array lies: read, never believed
            object.__setattr__(obj, "_j_mem", memory)
        return obj


_LIBRARY_MODULES = ("numpy", "builtins", "math", "time", "operator", "functools", "statistics")


def _library_path(obj: Any) -> str | None:
    """`module.name` of a library function that the student's process can import for itself."""
    import numpy as np

    if isinstance(obj, np.ufunc):
        return f"numpy.{obj.__name__}"
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str) or not callable(obj):
        return None
    if module.split(".")[0] not in _LIBRARY_MODULES or "<" in name:
        return None
    found: Any = sys.modules.get(module)  # the function's module is loaded, or the function would not exist
    for part in name.split("."):
        found = getattr(found, part, None)
    if found is not obj and module.startswith("numpy"):  # numpy's functions live in submodules
        return f"numpy.{name}" if getattr(np, name, None) is obj else None
    return f"{module}.{name}" if found is obj else None


class JudgeSession:
    """The judge's end of one session: requests to the student's process, answers to its callbacks.

    While its test runs it is `tito.tools.session`'s running session, and answers what the tools ask of it."""

    def __init__(self, sock, deadline: float, pid: int):
        self.deadline = deadline
        self.pid = pid
        self.codec = JudgeCodec(self)
        self.streams = (sys.stdout, sys.stderr)  # where the judge's own output went when the test began
        self.output: list[str] = []
        self.released: list[int] = []  # handles whose proxies are gone: freed there with the next request
        self.peer = Peer(sock, self._answer, name="judge").start()

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the test ran past its time limit")
        return left

    def request(self, op: str, args: list, **extra: Any) -> Any:
        tree, buffers = self.codec.encode(args)
        released, self.released = self.released, []
        if released:
            extra["release"] = released
        reply, rbufs = self.peer.request(op, {**extra, "args": tree}, buffers, timeout=self.remaining())
        return self.codec.decode(reply.get("value"), rbufs)

    def close(self) -> None:
        self.peer.close()

    def is_open(self) -> bool:
        return not self.peer.closed.is_set()

    def is_proxy(self, value: Any) -> bool:
        return isinstance(value, (RemoteObject, RemoteMeta))

    def fetch_plain(self, value: Any) -> Any:
        """The value of a student object as plain data, or StudentObjectError when it is not plain data."""
        try:
            return self.request("plain", [value])
        except TypeError as exc:
            raise StudentObjectError(str(exc)) from None

    def call_returning_arguments(self, target: Any, args: tuple, kwargs: dict) -> tuple[Any, list[Any]]:
        """`target(*args, **kwargs)` in the student's process, with the array arguments as they were
        after the call (by value; None for an argument that is not an array)."""
        result, after = self.request("call", [target, list(args), dict(kwargs)], writeback=True)
        return result, list(after)

    def memory_of(self, value: Any) -> list | None:
        return object.__getattribute__(value, "_j_mem") if isinstance(value, RemoteObject) else None

    def _answer(self, op: str, header: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        if op == "write":
            self._write(str(header.get("stream")), str(header.get("text", "")))
            return {"value": None}, []
        if op != "callback":
            raise ProtocolError(f"the student's process may only call back judge functions, not {op!r}")
        index = int(header["cb"])
        if not 0 <= index < len(self.codec.callbacks):
            raise ProtocolError(f"no callback {index}")
        args, kwargs = self.codec.decode(header.get("args"), buffers)
        value = self.codec.callbacks[index](*args, **kwargs)
        tree, bufs = self.codec.encode(value)
        return {"value": tree}, bufs


    def _write(self, stream: str, text: str) -> None:
        """Student output: into the stream a test redirected, else kept with the session (bounded)."""
        target = sys.stdout if stream == "stdout" else sys.stderr
        if target is not self.streams[stream != "stdout"]:
            target.write(text)
        elif sum(map(len, self.output)) < MAX_KEPT_OUTPUT:
            self.output.append(text)


def _global_name(obj: Any) -> str | None:
    if isinstance(obj, RemoteObject):
        return object.__getattribute__(obj, "_j_global")
    return obj.__dict__.get("_j_global")


def _target(obj: Any) -> tuple[JudgeSession, int]:
    if isinstance(obj, RemoteObject):
        session, oid = object.__getattribute__(obj, "_j_session"), object.__getattribute__(obj, "_j_id")
    else:
        session, oid = obj.__dict__["_j_session"], obj.__dict__["_j_id"]
    if session is not current():
        raise RuntimeError("an object of an earlier test cannot be used in this one")
    return session, oid


def _op(name: str, *args: Any) -> Any:
    return running().request("operator", list(args), name=name)


def _builtin(name: str, *args: Any) -> Any:
    return running().request("builtin", list(args), name=name)


def _call(target: Any, args: tuple, kwargs: dict) -> Any:
    """Call a student function. Arguments go by copy: what the function does to them stays in the
    student's process (a test that wants to see it asks with `call_returning_arguments`)."""
    session = running()
    resident = [object.__getattribute__(a, "_j_id") for a in list(args) + list(kwargs.values())
                if isinstance(a, RemoteObject) and object.__getattribute__(a, "_j_global") is None]
    return session.request("call", [target, list(args), dict(kwargs)], resident_args=resident)


def _refuse(what: str):
    def refused(self: Any, *other: Any) -> Any:
        raise StudentObjectError(
            f"{what} on an object of the student's process ({_type_name(self)}) would let that process decide: "
            "fetch a plain value first, with plain(x), np.asarray(x) or float(x)")
    return refused


def _type_name(obj: Any) -> str:
    if isinstance(obj, RemoteObject):
        return str(object.__getattribute__(obj, "_j_type")).rsplit(".", 1)[-1]
    return type(obj).__name__


_LOCAL_ONLY_PREFIXES = ("_j_", "__array", "__dlpack", "_repr_")
_LOCAL_ONLY_NAMES = {"__buffer__", "__length_hint__", "__getstate__", "__reduce__", "__reduce_ex__", "__copy__",
                     "__deepcopy__", "__fspath__", "__iter__", "__next__", "__await__", "__aiter__"}


def _binary(name: str, reflected: bool = False):
    if reflected:
        return lambda self, other: _op(name, other, self)
    return lambda self, other: _op(name, self, other)


def _conversion(kind: type):
    """`__int__`, `__float__`, `__complex__`: the builtin runs on the student's side; its answer is
    converted again here, so the caller gets a real int, float or complex (a fetched value)."""
    return lambda self: kind(_builtin(kind.__name__, self))


class RemoteObject:
    """A proxy for one object of the student's process (or, with `_j_global`, for a global name)."""

    __slots__ = ("_j_session", "_j_id", "_j_type", "_j_global", "_j_mem", "__weakref__")
    __array_priority__ = 1000.0  # `ndarray + proxy` lets the student's object decide, as in the notebook

    @classmethod
    def _make(cls, session: JudgeSession | None, oid: int | None, type_name: str, global_name: str | None = None):
        obj = object.__new__(cls)
        object.__setattr__(obj, "_j_session", session)
        object.__setattr__(obj, "_j_id", oid)
        object.__setattr__(obj, "_j_type", type_name)
        object.__setattr__(obj, "_j_global", global_name)
        object.__setattr__(obj, "_j_mem", None)
        return obj

    def __del__(self) -> None:
        # the student's process may free the object too, as the notebook would (a timed kernel's
        # results would otherwise pile up there, and every call would fault in fresh memory)
        session, oid = object.__getattribute__(self, "_j_session"), object.__getattribute__(self, "_j_id")
        if session is not None and oid is not None:
            session.released.append(oid)

    def __getattr__(self, name: str) -> Any:
        if name.startswith(_LOCAL_ONLY_PREFIXES) or name in _LOCAL_ONLY_NAMES:
            raise AttributeError(name)  # protocols numpy and Python probe for: answered by this class alone
        return running().request("getattr", [self], name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        running().request("setattr", [self, value], name=name)

    def __delattr__(self, name: str) -> None:
        running().request("delattr", [self], name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self, args, kwargs)

    def __repr__(self) -> str:
        return _builtin("repr", self)

    def __str__(self) -> str:
        return _builtin("str", self)

    def __format__(self, spec: str) -> str:
        return _builtin("format", self, spec)

    __int__, __float__, __complex__ = _conversion(int), _conversion(float), _conversion(complex)
    __bool__, __len__, __iter__ = _refuse("bool()"), _refuse("len()"), _refuse("iteration")
    __contains__ = _refuse("`in`")

    def __index__(self) -> int:
        return int(_op("index", self))

    def __array__(self, dtype: Any = None, copy: Any = None):
        import numpy as np

        array = running().request("array", [self])
        if not isinstance(array, np.ndarray):
            array = np.asarray(array)
        return array.astype(dtype) if dtype is not None else array

    def __enter__(self) -> Any:
        return running().request("getattr", [self], name="__enter__")()

    def __exit__(self, *exc: Any) -> bool:
        # the student's __exit__ learns that the block ended, not the judge's exception
        running().request("getattr", [self], name="__exit__")(None, None, None)
        return False

    __hash__ = object.__hash__

    __add__, __radd__ = _binary("add"), _binary("add", True)
    __sub__, __rsub__ = _binary("sub"), _binary("sub", True)
    __mul__, __rmul__ = _binary("mul"), _binary("mul", True)
    __truediv__, __rtruediv__ = _binary("truediv"), _binary("truediv", True)
    __floordiv__, __rfloordiv__ = _binary("floordiv"), _binary("floordiv", True)
    __mod__, __rmod__ = _binary("mod"), _binary("mod", True)
    __pow__, __rpow__ = _binary("pow"), _binary("pow", True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", True)
    __and__, __rand__ = _binary("and_"), _binary("and_", True)
    __or__, __ror__ = _binary("or_"), _binary("or_", True)
    __xor__, __rxor__ = _binary("xor"), _binary("xor", True)
    __lshift__, __rlshift__ = _binary("lshift"), _binary("lshift", True)
    __rshift__, __rrshift__ = _binary("rshift"), _binary("rshift", True)
    __eq__, __ne__ = _refuse("=="), _refuse("!=")
    __lt__, __le__, __gt__, __ge__ = _refuse("<"), _refuse("<="), _refuse(">"), _refuse(">=")
    __getitem__ = _binary("getitem")

    def __setitem__(self, key: Any, value: Any) -> None:
        _op("setitem", self, key, value)

    def __delitem__(self, key: Any) -> None:
        _op("delitem", self, key)

    def __neg__(self) -> Any:
        return _op("neg", self)

    def __pos__(self) -> Any:
        return _op("pos", self)

    def __abs__(self) -> Any:
        return _op("abs", self)

    def __invert__(self) -> Any:
        return _op("invert", self)


class RemoteMeta(type):
    """The type of class proxies: `StudentClass(...)` builds an object in the student's process and
    `isinstance(proxy, StudentClass)` is asked there."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _call(cls, args, kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        if not isinstance(obj, RemoteObject):
            return False
        return bool(_builtin("isinstance", obj, cls))

    def __subclasscheck__(cls, other: Any) -> bool:
        if not isinstance(other, RemoteMeta):
            return False
        return bool(_builtin("issubclass", other, cls))

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_j_") or name.startswith("__"):
            raise AttributeError(name)
        return running().request("getattr", [cls], name=name)

    def __repr__(cls) -> str:
        return f"<class {cls.__name__} of the student's notebook>"

    __hash__ = type.__hash__


def remote_class(name: str, session: JudgeSession | None = None, oid: int | None = None,
                 global_name: str | None = None) -> RemoteMeta:
    return RemoteMeta(name if name.isidentifier() else "StudentClass", (),
                      {"_j_session": session, "_j_id": oid, "_j_global": global_name, "__module__": "student"})


def global_proxy(name: str, kind: str) -> Any:
    """A proxy for the student's global `name`, resolved in whichever session is running."""
    if kind == "class":
        return remote_class(name, global_name=name)
    return RemoteObject._make(None, None, "global", global_name=name)
