"""Plain data between the trusted judge and the student's process.

A message is a JSON header plus raw buffers (NumPy arrays in `.npy` form, bytes).
Nothing is ever pickled: the judge decodes what the student's process sends with
`json.loads` and NumPy's own `.npy` header reader only (arrays of plain dtypes, never
objects, their data a view of the received bytes), and everything it cannot
express as plain data stays in the student's process, named by a handle.

Values in a header:

| value | encoded as |
|---|---|
| None, bool, int, float, str | themselves |
| tuple, list, set, frozenset, dict, slice, range, complex, bytes, Ellipsis | `{"$": kind, ...}` |
| ndarray, NumPy scalar | `{"$": "array", "b": buffer index, "scalar": bool}` |
| NumPy dtype, NumPy scalar type, builtin type | `{"$": "dtype" / "sctype" / "type", "v": name}` |
| anything else | a handle, `{"$": "ref", ...}`, made and resolved by the side's `Codec` hooks |

What the judge decodes is plain data by construction: every value is rebuilt by
`json.loads` and NumPy's `.npy` header reader into builtin and NumPy types, or
is a handle. No class of the student's (a Tensor included, whatever its name) ever
becomes an object of the judge's.

The limits fit the course's data with room to spare (its largest array is a
10**7-element float32 vector, 40 MB) and keep a malformed or hostile message from
costing more than a failed test: a message over them is refused as soon as its
frame is read.

Standard library and NumPy only: the student's process imports this module.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import socket
import struct
import threading
from typing import Any

MAX_HEADER_BYTES = 4 * 2**20  # the JSON of one message
MAX_BUFFER_BYTES = 256 * 2**20  # all arrays and bytes of one message
MAX_BUFFERS = 10_000
MAX_DEPTH = 32  # containers inside containers; the tests' values nest three or four deep
QUOTED_VALUE_CHARS = 80  # of a malformed value, in the error that rejects it
MAX_ERROR_TYPE_CHARS, MAX_ERROR_BASES, MAX_ERROR_MESSAGE_CHARS = 200, 20, 20_000  # an exception sent as plain data
_FRAME = struct.Struct("!II")
_BUFFER_LEN = struct.Struct("!Q")
_BUILTIN_TYPES = {t.__name__: t for t in (bool, int, float, complex, str, bytes, list, tuple, dict, set, object)}


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class ConnectionLost(Exception):
    """The other side closed the connection or died."""


# ---------------------------------------------------------------- framing

LARGE_BUFFER_BYTES = 1 << 20  # received into NumPy's memory, which the OS maps in huge pages, not a zeroed bytearray


def _recv_exact(sock: socket.socket, size: int) -> Any:
    """`size` bytes, received in place: an array decoded from them is a view of this buffer, not a copy.
    A large buffer is left unzeroed and faults its pages in while it is received (40 MB: about 5 ms,
    against 25 ms to zero a bytearray first)."""
    view = _np().empty(size, dtype="uint8") if size >= LARGE_BUFFER_BYTES else bytearray(size)
    got = 0
    while got < size:
        chunk = sock.recv_into(memoryview(view)[got:], size - got)
        if chunk == 0:
            raise ConnectionLost("connection closed")
        got += chunk
    return view


JOINED_BYTES = 1 << 16  # buffers smaller than this travel in one send with their frame; larger ones as they are


class Pieces:
    """One buffer of a message, sent as consecutive pieces (an `.npy` header, then the array's own
    memory) so that a large array is never copied to be sent. The receiver reads one buffer."""

    def __init__(self, *parts: Any):
        self.parts = parts

    def __len__(self) -> int:  # bytes, as for any other buffer
        return sum(len(part) for part in self.parts)


def send_frame(sock: socket.socket, header: dict, buffers: list, lock: threading.Lock | None = None) -> None:
    """One message: its frame, header and buffers (bytes-like or `Pieces`), sent without copying a large buffer."""
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    frame = [_FRAME.pack(len(head), len(buffers)), *(_BUFFER_LEN.pack(len(b)) for b in buffers), head]
    flat = [part for b in buffers for part in (b.parts if type(b) is Pieces else (b,))]
    parts = [b"".join([*frame, *flat])] if sum(len(b) for b in flat) < JOINED_BYTES else [b"".join(frame), *flat]
    with lock if lock is not None else contextlib.nullcontext():
        for part in parts:
            sock.sendall(part)


def connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port))
    no_delay(sock)
    return sock


def no_delay(sock: socket.socket) -> socket.socket:
    """Small requests and answers go out at once (Nagle's algorithm would hold each for an ACK)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_frame(sock: socket.socket) -> tuple[dict, list[bytes]]:
    head_len, count = _FRAME.unpack(_recv_exact(sock, _FRAME.size))
    if head_len > MAX_HEADER_BYTES or count > MAX_BUFFERS:
        raise ProtocolError(f"message too large: header {head_len} bytes, {count} buffers")
    sizes = [_BUFFER_LEN.unpack(_recv_exact(sock, _BUFFER_LEN.size))[0] for _ in range(count)]
    if sum(sizes) > MAX_BUFFER_BYTES:
        raise ProtocolError(f"message too large: {sum(sizes)} bytes of buffers, at most {MAX_BUFFER_BYTES}")
    raw = _recv_exact(sock, head_len)
    if _nesting(raw) > MAX_DEPTH * 3 + 8:  # each encoded value level is at most three JSON levels
        raise ProtocolError(f"message nested too deeply (more than {MAX_DEPTH} levels of values)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"unreadable message header: {type(exc).__name__}: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message header must be a JSON object")
    return header, [_recv_exact(sock, size) for size in sizes]


def _nesting(raw: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped; checked before `json.loads`,
    whose recursion would otherwise end in a RecursionError deep inside the reader."""
    depth = deepest = 0
    in_string = escaped = False
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0  # too few brackets to nest deeply: skip the byte-by-byte scan
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


# ---------------------------------------------------------------- values

def _np():
    import numpy

    return numpy


def array_to_bytes(array: Any) -> Pieces:
    """The array in `.npy` form: the header from NumPy's own writer, then the C-ordered array's memory
    itself (copied only if the array was not C-contiguous)."""
    np = _np()
    array = np.ascontiguousarray(array) if array.ndim else array
    header = np.lib.format.header_data_from_array_1_0(array)
    out = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(out, header)
    except ValueError:  # a header past 64 KiB (a very long shape) takes format 2.0
        out = io.BytesIO()
        np.lib.format.write_array_header_2_0(out, header)
    return Pieces(out.getvalue(), memoryview(array.reshape(-1).view(np.uint8)))


_NPY_HEADER_BYTES = 1 << 17  # an `.npy` header of format 1.0 or 2.0 that NumPy's reader accepts fits in this


def array_from_bytes(data: bytes | bytearray) -> Any:
    """The array of an `.npy` buffer: its header read by NumPy's own reader (plain dtypes only, never
    objects), its data a view of `data` (writable when `data` is, as received)."""
    np = _np()
    try:
        stream = io.BytesIO(bytes(data[:_NPY_HEADER_BYTES]))
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version} is not sent by this wire")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
        if dtype.hasobject:
            raise ValueError("an array of Python objects is not plain data")
        offset, count = stream.tell(), 1
        for extent in shape:
            count *= extent
        if len(data) - offset != count * dtype.itemsize:
            raise ValueError(f"{len(data) - offset} bytes of data for {count} items of {dtype}")
        flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        return flat.reshape(shape[::-1]).T if fortran_order else flat.reshape(shape)
    except Exception as exc:  # NumPy's reader raises ValueError for bad headers, others for garbage
        raise ProtocolError(f"unreadable array: {type(exc).__name__}: {exc}") from None


class Codec:
    """Turns values into headers and buffers and back. Subclasses decide what a handle is:
    `make_ref(obj)` for an object that is not plain data, `resolve_ref(tree)` for one received."""

    def make_ref(self, obj: Any) -> dict:
        raise TypeError(f"{type(obj).__name__} cannot be sent as plain data")

    def resolve_ref(self, tree: dict) -> Any:
        raise ProtocolError("this side does not accept handles")

    # -- encode
    def encode(self, value: Any) -> tuple[Any, list[bytes]]:
        buffers: list[bytes] = []
        return self._enc(value, buffers, 0), buffers

    def _enc(self, v: Any, bufs: list[bytes], depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("value nested too deeply to send")
        if v is None or isinstance(v, (bool, str)):
            return v
        if type(v) is int or type(v) is float:
            return v
        kind = type(v)
        d = depth + 1
        if kind in (tuple, list, set, frozenset):
            return {"$": kind.__name__, "v": [self._enc(x, bufs, d) for x in v]}
        if kind is dict:
            return {"$": "dict", "v": [[self._enc(k, bufs, d), self._enc(x, bufs, d)] for k, x in v.items()]}
        if kind is complex:
            return {"$": "complex", "v": [v.real, v.imag]}
        if kind is slice:
            return {"$": "slice", "v": [self._enc(x, bufs, d) for x in (v.start, v.stop, v.step)]}
        if kind is range:
            return {"$": "range", "v": [v.start, v.stop, v.step]}
        if kind is bytes:
            bufs.append(v)
            return {"$": "bytes", "b": len(bufs) - 1}
        if v is Ellipsis:
            return {"$": "ellipsis"}
        if isinstance(v, type) and v.__module__ == "builtins" and _BUILTIN_TYPES.get(v.__name__) is v:
            return {"$": "type", "v": v.__name__}
        np = _np()
        if kind is np.ndarray and v.dtype.kind in "biufcUSmM":
            bufs.append(array_to_bytes(v))
            return {"$": "array", "b": len(bufs) - 1, "scalar": False}
        if isinstance(v, np.generic) and v.dtype.kind in "biufcUSmM":
            bufs.append(array_to_bytes(np.asarray(v)))
            return {"$": "array", "b": len(bufs) - 1, "scalar": True}
        if isinstance(v, np.dtype) and v.kind in "biufcUSmM" and v.fields is None:
            return {"$": "dtype", "v": v.str}
        if isinstance(v, type) and issubclass(v, np.generic) and v.__module__ == "numpy":
            return {"$": "sctype", "v": np.dtype(v).str}
        return self.make_ref(v)

    # -- decode
    def decode(self, tree: Any, buffers: list[bytes]) -> Any:
        try:
            return self._dec(tree, buffers, 0)
        except ProtocolError:
            raise
        except RecursionError:
            raise ProtocolError("value nested too deeply") from None
        except Exception as exc:
            raise ProtocolError(f"malformed value: {type(exc).__name__}: {exc}") from None

    def _dec(self, t: Any, bufs: list[bytes], depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if t is None or isinstance(t, (bool, int, float, str)):
            return t
        if not isinstance(t, dict) or not isinstance(t.get("$"), str):
            raise ProtocolError(f"not an encoded value: {str(t)[:QUOTED_VALUE_CHARS]}")
        kind, d = t["$"], depth + 1
        if kind in ("tuple", "list", "set", "frozenset"):
            items = [self._dec(x, bufs, d) for x in _as_list(t["v"])]
            return {"tuple": tuple, "list": list, "set": set, "frozenset": frozenset}[kind](items)
        if kind == "dict":
            return {self._dec(k, bufs, d): self._dec(x, bufs, d) for k, x in _as_list(t["v"])}
        if kind == "complex":
            re, im = t["v"]
            return complex(float(re), float(im))
        if kind == "slice":
            return slice(*(self._dec(x, bufs, d) for x in _as_list(t["v"])))
        if kind == "range":
            return range(*(int(x) for x in t["v"]))
        if kind == "bytes":
            return bytes(bufs[int(t["b"])])
        if kind == "ellipsis":
            return Ellipsis
        if kind == "type":
            return _BUILTIN_TYPES[str(t["v"])]
        np = _np()
        if kind == "array":
            array = array_from_bytes(bufs[int(t["b"])])
            return array[()] if t.get("scalar") else array
        if kind == "dtype":
            return np.dtype(str(t["v"]))
        if kind == "sctype":
            return np.dtype(str(t["v"])).type
        if kind in ("ref", "cb", "lib"):
            return self.resolve_ref(t)
        raise ProtocolError(f"unknown value kind {kind!r}")


def _as_list(value: Any) -> list:
    if not isinstance(value, list):
        raise ProtocolError("expected a list")
    return value


# ---------------------------------------------------------------- errors

def encode_error(exc: BaseException) -> dict:
    """An exception as plain data: its type's name, its builtin base classes, its message."""
    bases = [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"]
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable message>"
    return {"type": type(exc).__name__[:MAX_ERROR_TYPE_CHARS], "bases": bases[:MAX_ERROR_BASES],
            "message": message[:MAX_ERROR_MESSAGE_CHARS]}


class RemoteError(Exception):
    """An exception raised in the student's process whose type has no safe local equivalent."""


_error_classes: dict[tuple[str, str], type] = {}


def rebuild_error(data: Any) -> Exception:
    """A local exception for one raised on the other side: the builtin class of that name when it is
    an ordinary Exception (so `except ValueError` works as it would in the notebook), otherwise a
    subclass named like the original of its nearest builtin Exception base."""
    if not isinstance(data, dict):
        return RemoteError("malformed error report")
    name, message = str(data.get("type", "Exception")), str(data.get("message", ""))
    bases = [b for b in data.get("bases", []) if isinstance(b, str)]
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception) and name in bases:
        return builtin(message)
    base = next((getattr(builtins, b) for b in bases
                 if isinstance(getattr(builtins, b, None), type) and issubclass(getattr(builtins, b), Exception)),
                RemoteError)
    key = (name, base.__name__)
    if key not in _error_classes:
        _error_classes[key] = type(name if name.isidentifier() else "RemoteError", (base,), {"__module__": "student"})
    return _error_classes[key](message)
