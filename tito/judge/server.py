"""The student's side of judging: answer the judge's calls from a fork of the notebook's process.

The last cell the grader runs in the student's kernel calls `serve(...)`. It
connects to the judge and waits. For every graded test the judge asks for a
*session*: the process forks, and the child answers that test's calls (call this
function, get that attribute, apply `+`, ...) over its own connection, then exits.
So whatever a student function changes while one test calls it (NumPy, `time`,
the calling frame, module globals) is gone before the next test starts.

Nothing here is trusted. The judge treats every answer as plain data from an
untrusted process (see `tito.judge.wire`) and decides every verdict itself; this
module only has to be useful to an honest notebook.

Standard library and NumPy only.
"""

from __future__ import annotations

import builtins
import io
import operator
import os
import socket
import sys
from typing import Any

from tito.judge.peer import Peer
from tito.judge.wire import Codec, ProtocolError, connect, encode_error, recv_frame, send_frame

OPERATORS = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs", "invert",
    "eq", "ne", "lt", "le", "gt", "ge", "getitem", "setitem", "delitem", "contains", "and_", "or_", "xor",
    "lshift", "rshift", "index", "iadd", "isub", "imul", "itruediv", "imatmul")}
BUILTINS = {name: getattr(builtins, name) for name in (
    "len", "bool", "repr", "str", "int", "float", "complex", "hash", "dir", "isinstance", "issubclass",
    "format", "callable", "type")}
MAX_CAPTURED_OUTPUT = 64 * 1024
MAX_TYPE_NAME_CHARS = 300  # an object's qualified type name, as the judge is told it
_fork = getattr(os, "fork", None)  # None where there is none: tito.judge.modes then serves in-process


def _kind(obj: Any) -> str:
    if isinstance(obj, type):
        return "class"
    return "callable" if callable(obj) else "object"


class StudentCodec(Codec):
    """Handles are indices into this session's table of objects; callbacks are the judge's functions."""

    def __init__(self, session: "Session"):
        self.session = session
        self.objects: list[Any] = []
        self.resident: set[int] = set()  # handles of values the judge placed here to call with

    def make_ref(self, obj: Any) -> dict:
        self.objects.append(obj)
        cls = obj if isinstance(obj, type) else type(obj)
        ref = {"$": "ref", "id": len(self.objects) - 1, "kind": _kind(obj),
               "type": f"{cls.__module__}.{cls.__qualname__}"[:MAX_TYPE_NAME_CHARS]}
        memory = _array_memory(obj)
        if memory is not None:  # where a timed result lies, for the judge to read it right away
            ref["mem"] = memory
        return ref

    def resolve_ref(self, tree: dict) -> Any:
        if tree["$"] == "cb":
            return Callback(self.session, int(tree["id"]), str(tree.get("name", "callback")))
        if tree["$"] == "lib":
            return _library_object(str(tree["v"]))
        if "global" in tree:
            # the student's object of that name; after the judge rebound the name (a test's spy),
            # still the student's own object, which the spy wraps
            name = str(tree["global"])
            scope = self.session.original if name in self.session.rebound else self.session.namespace
            if name not in scope:
                raise NameError(f"name '{name}' is not defined")
            return scope[name]
        index = int(tree["id"])
        if not 0 <= index < len(self.objects):
            raise ProtocolError(f"no object {index} in this session")
        return self.objects[index]


def _array_memory(obj: Any) -> list | None:
    """[address, shape, strides, itemsize] of an ndarray's data."""
    np = sys.modules.get("numpy")
    if np is None or type(obj) is not np.ndarray:
        return None
    return [int(obj.__array_interface__["data"][0]), list(obj.shape), list(obj.strides), int(obj.itemsize)]


def _library_object(path: str) -> Any:
    """A library function named by the judge (`numpy.zeros`, `builtins.sum`), as this process has it."""
    import importlib

    module_name, _, attribute = path.rpartition(".")
    value = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


class PlainCodec(Codec):
    """Encodes plain data only: the answer to the judge's `plain` request."""

    def make_ref(self, obj: Any) -> dict:
        raise TypeError(f"a {type(obj).__module__}.{type(obj).__qualname__} is not plain data "
                        "(numbers, strings, arrays, and lists, tuples or dicts of them)")


class ForwardedStream(io.TextIOBase):
    """sys.stdout / sys.stderr of a session: what student code prints goes to the judge, where a
    test that captures output (contextlib.redirect_stdout) sees it as it would in the notebook."""

    def __init__(self, session: "Session", name: str):
        self._session, self._name = session, name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self._session.peer.request("write", {"stream": self._name, "text": str(text)[:MAX_CAPTURED_OUTPUT]})
        return len(text)


class Callback:
    """A judge function handed to student code: calling it asks the judge to run it."""

    def __init__(self, session: "Session", cid: int, name: str):
        self._session, self._cid, self.__name__ = session, cid, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        codec = self._session.codec
        tree, bufs = codec.encode([list(args), kwargs])
        reply, rbufs = self._session.peer.request("callback", {"cb": self._cid, "args": tree}, bufs)
        return codec.decode(reply.get("value"), rbufs)

    def __repr__(self) -> str:
        return f"<judge function {self.__name__}>"


class Session:
    """One graded test's calls, answered in a forked child of the notebook's process."""

    def __init__(self, sock: socket.socket, namespace: dict[str, Any]):
        self.namespace = namespace
        self.original = dict(namespace)
        self.rebound: set[str] = set()
        self.codec = StudentCodec(self)
        self.peer = Peer(sock, self.answer, name="session")
        sys.stdout, sys.stderr = ForwardedStream(self, "stdout"), ForwardedStream(self, "stderr")
        self.peer.start()

    def answer(self, op: str, header: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        codec = self.codec
        for index in header.get("release", []):  # the judge dropped its proxies of these
            if isinstance(index, int) and 0 <= index < len(codec.objects):
                codec.objects[index] = None
                codec.resident.discard(index)
        args = codec.decode(header.get("args", {"$": "list", "v": []}), buffers)
        if op == "global":
            name = str(header["name"])
            if name not in self.namespace:
                raise NameError(f"name '{name}' is not defined")
            value = self.namespace[name]
        elif op == "set_global":
            name = str(header["name"])
            if header.get("restore") and name in self.original:
                self.namespace[name] = self.original[name]
                self.rebound.discard(name)
            else:
                self.namespace[name] = args[0]
                self.rebound.add(name)
            value = None
        elif op == "module":
            import importlib

            value = importlib.import_module(str(header["name"]))
        elif op == "getattr":
            value = getattr(args[0], str(header["name"]))
        elif op == "setattr":
            setattr(args[0], str(header["name"]), args[1])
            value = None
        elif op == "delattr":
            delattr(args[0], str(header["name"]))
            value = None
        elif op == "call":
            target, positional, keywords = args
            value = target(*positional, **keywords)
            if any(index in codec.resident for index in header.get("resident_args", [])):
                # called with placed inputs (a timed call): the result stays here too
                return {"value": codec.make_ref(value)}, []
            if header.get("writeback"):
                changed = [a for a in list(positional) + list(keywords.values())]
                tree, bufs = codec.encode([value, [_array_or_none(a) for a in changed]])
                return {"value": tree}, bufs
        elif op == "operator":
            value = OPERATORS[str(header["name"])](*args)
        elif op == "builtin":
            value = BUILTINS[str(header["name"])](*args)
        elif op == "plain":
            tree, bufs = PlainCodec().encode(args[0])
            return {"value": tree}, bufs
        elif op == "array":
            import numpy as np

            value = np.asarray(args[0])
            if value.dtype.kind == "O":
                raise TypeError(f"{type(args[0]).__name__} does not convert to a numeric array")
        elif op == "place":
            refs = [codec.make_ref(v) for v in args]
            codec.resident.update(ref["id"] for ref in refs)
            return {"value": {"$": "list", "v": refs}}, []
        else:
            raise ProtocolError(f"unknown request {op!r}")
        tree, bufs = codec.encode(value)
        return {"value": tree}, bufs


def _array_or_none(value: Any) -> Any:
    import numpy as np

    return value if type(value) is np.ndarray else None


def _hello(sock: socket.socket, token: str, role: str) -> None:
    send_frame(sock, {"token": token, "role": role, "pid": os.getpid()}, [])


def _child(host: str, port: int, token: str, namespace: dict[str, Any]) -> None:
    """The forked child: answer one session, then leave without running any exit handlers."""
    code = 0
    try:
        sys.stdout = sys.stderr = io.StringIO()  # the kernel's output streams belong to the parent
        sock = connect(host, port)
        _hello(sock, token, "session")
        session = Session(sock, namespace)
        session.peer.serve_in_this_thread()
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _in_process_session(host: str, port: int, token: str, namespace: dict[str, Any]) -> None:
    """Answer one session in this process (no fork), then put the notebook's names and streams back."""
    names, streams = dict(namespace), (sys.stdout, sys.stderr)
    try:
        sock = connect(host, port)
        _hello(sock, token, "session")
        Session(sock, namespace).peer.serve_in_this_thread()
    except Exception:
        pass  # the judge sees the session end and fails its test
    finally:
        sys.stdout, sys.stderr = streams
        namespace.clear()
        namespace.update(names)


def serve(host: str, port: int, token: str, namespace: dict[str, Any]) -> None:
    """Connect to the judge at host:port and answer one session per graded test, until it says done:
    in a forked child, or in this process where fork is missing or unsafe (`tito.judge.modes`)."""
    from tito.judge.modes import FORK, session_mode

    mode, _ = session_mode()
    control = connect(host, port)
    _hello(control, token, "control")
    try:
        while True:
            try:
                header, _ = recv_frame(control)
            except Exception:
                return
            op, rid = header.get("op"), header.get("id")
            reply: dict[str, Any] = {"reply_to": rid}
            try:
                if op == "names":
                    reply["names"] = {k: [_kind(v), id(v)] for k, v in list(namespace.items())
                                      if isinstance(k, str) and not k.startswith("__")}
                    reply["signs"] = tampering_signs()
                    reply["mode"] = mode
                elif op == "fork" and mode != FORK:
                    reply["pid"] = os.getpid()
                    send_frame(control, reply, [])
                    _in_process_session(host, port, token, namespace)
                    continue
                elif op == "fork":
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = _fork()
                    if pid == 0:
                        control.close()
                        _child(host, port, token, namespace)
                    reply["pid"] = pid
                elif op == "reap" and mode != FORK:
                    reply["status"] = None
                elif op == "reap":
                    try:
                        _, status = os.waitpid(int(header["pid"]), 0)
                        reply["status"] = status
                    except ChildProcessError:
                        reply["status"] = None
                elif op == "done":
                    send_frame(control, reply, [])
                    return
                else:
                    raise ProtocolError(f"unknown control request {op!r}")
            except Exception as exc:
                reply = {"reply_to": rid, "error": encode_error(exc)}
            send_frame(control, reply, [])
    finally:
        control.close()


def tampering_signs() -> list[str]:
    """What this process can see of changes to IPython's error handling and code transformation.

    Reported by the student's own process, so a careful tamperer can hide them; the judge's
    verdicts never depend on them, they only explain a `tampered` status."""
    signs = []
    shell = None
    get_ipython = getattr(builtins, "get_ipython", None)
    if callable(get_ipython):
        try:
            shell = get_ipython()
        except Exception:
            shell = None
    if shell is not None:
        if getattr(shell, "custom_exceptions", ()):
            signs.append("a custom exception handler is installed (set_custom_exc)")
        if getattr(shell, "ast_transformers", []):
            signs.append(f"{len(shell.ast_transformers)} AST transformer(s) are installed")
        for name in ("showtraceback", "showsyntaxerror", "run_cell", "run_ast_nodes", "run_code"):
            if name in vars(shell):
                signs.append(f"the shell's {name} was replaced")
        if getattr(shell, "input_transformers_post", []):
            signs.append(f"{len(shell.input_transformers_post)} input transformer(s) are installed")
    if sys.excepthook is not sys.__excepthook__ and shell is None:
        signs.append("sys.excepthook was replaced")
    if sys.gettrace() is not None:
        signs.append("a trace function is installed (sys.settrace)")
    return signs


def serve_cell_source(host: str, port: int, token: str) -> str:
    """The code of the cell that hands the notebook's process over to the judge."""
    return (f"__import__('tito.judge.server', fromlist=['serve']).serve({host!r}, {port}, {token!r}, globals())")
