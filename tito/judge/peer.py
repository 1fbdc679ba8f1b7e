"""One end of a judge connection: requests both ways, nested calls answered in the waiting thread.

Requests from either side carry an id. A request made while answering one from the
other side (the judge calls a student function, which calls back a test's function,
which calls the student again) is answered by the very thread that waits there, as
a nested call would be in one process; any other request gets a thread of its own,
or the thread that called `serve_in_this_thread`. Standard library only: the
student's process imports this module.
"""

from __future__ import annotations

import itertools
import queue
import socket
import threading
import time
from typing import Callable

from tito.judge.wire import ConnectionLost, ProtocolError, encode_error, rebuild_error, recv_frame, send_frame

MAX_CONCURRENT_REQUESTS = 64  # answers in progress at once; more would only exhaust threads


class Peer:
    """One end of a connection: send requests and wait for their replies; answer the other side's
    requests with `handler(op, header, buffers) -> (reply header, buffers)`.

    A request made while answering one from the other side (the judge calls a student
    function, which calls back a test's function, which calls the student again) is
    answered by the very thread that is waiting there, as a nested call would be in one
    process: thread-local state (BLAS limits, `threading.local`) means what it means in
    the notebook. Any other request gets a thread of its own, at most
    MAX_CONCURRENT_REQUESTS at once.
    """

    def __init__(self, sock: socket.socket, handler: Callable[[str, dict, list[bytes]], tuple[dict, list[bytes]]],
                 name: str = "peer"):
        self.sock = sock
        self.handler = handler
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._inboxes: dict[int, queue.Queue] = {}  # request id -> the waiting thread's inbox
        self._state_lock = threading.Lock()
        self._local = threading.local()  # .route: the other side's request this thread is answering
        self.closed = threading.Event()
        self.close_reason = ""
        self._answering = threading.BoundedSemaphore(MAX_CONCURRENT_REQUESTS)
        self._main_inbox: queue.Queue | None = None  # see serve_in_this_thread
        self._main_busy = False
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-reader", daemon=True)

    def start(self) -> "Peer":
        """Begin reading: called once the owner is ready to answer requests."""
        self._reader.start()
        return self

    def serve_in_this_thread(self) -> None:
        """Answer the other side's requests in the calling thread until the connection closes.

        The student's side calls this from its main thread: code under test then runs
        in the main thread, as in the notebook (OpenBLAS, for one, honours a thread
        limit set from the main thread only). A request that arrives while this thread
        is busy gets a thread of its own.
        """
        inbox: queue.Queue = queue.Queue()
        self._main_inbox = inbox
        if self.closed.is_set():
            return
        while True:
            header, buffers = inbox.get()
            if header is None:
                return
            self._answer(header, buffers, spawned=False)  # the reader marked this thread busy for it

    def request(self, op: str, header: dict, buffers: list[bytes] = (), timeout: float | None = None
                ) -> tuple[dict, list[bytes]]:
        """Send a request and wait for its reply, answering nested requests meanwhile; raises
        ConnectionLost, TimeoutError, or the rebuilt remote exception."""
        rid = next(self._ids)
        inbox: queue.Queue = queue.Queue()
        with self._state_lock:
            if self.closed.is_set():
                raise ConnectionLost(self.close_reason or "connection closed")
            self._inboxes[rid] = inbox
        message = {**header, "op": op, "id": rid}
        route = getattr(self._local, "route", None)
        if route is not None:
            message["route"] = route
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            try:
                send_frame(self.sock, message, list(buffers), self._send_lock)
            except OSError as exc:
                self._close(f"connection lost: {exc}")
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no answer to {op!r} within {timeout:.0f} s")
                try:
                    reply, bufs = inbox.get(timeout=left)
                except queue.Empty:
                    continue
                if reply is None:
                    raise ConnectionLost(self.close_reason or "connection closed")
                if reply.get("reply_to") == rid:
                    break
                self._answer(reply, bufs, spawned=False)  # a nested request, for this thread
        finally:
            with self._state_lock:
                self._inboxes.pop(rid, None)
        if "error" in reply:
            raise rebuild_error(reply["error"])
        return reply, bufs

    def close(self) -> None:
        self._close("closed by this side")
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _close(self, reason: str) -> None:
        with self._state_lock:
            if self.closed.is_set():
                return
            self.close_reason = reason
            self.closed.set()
            inboxes = list(self._inboxes.values())
        if self._main_inbox is not None:
            inboxes.append(self._main_inbox)
        for inbox in inboxes:
            inbox.put_nowait((None, []))

    def _read_loop(self) -> None:
        try:
            while True:
                header, buffers = recv_frame(self.sock)
                target = header.get("reply_to", header.get("route"))
                with self._state_lock:
                    inbox = self._inboxes.get(target) if isinstance(target, int) else None
                if inbox is not None:
                    inbox.put_nowait((header, buffers))
                    continue
                if "reply_to" in header:
                    continue  # the answer to a request nobody waits for any more (timed out)
                with self._state_lock:  # busy from the hand-over until its reply is on its way
                    to_main = self._main_inbox is not None and not self._main_busy
                    if to_main:
                        self._main_busy = True
                if to_main:
                    self._main_inbox.put_nowait((header, buffers))
                    continue
                if not self._answering.acquire(blocking=False):
                    busy = RuntimeError(f"more than {MAX_CONCURRENT_REQUESTS} requests at once")
                    send_frame(self.sock, {"error": encode_error(busy), "reply_to": header.get("id")}, [],
                               self._send_lock)
                    continue
                threading.Thread(target=self._answer, args=(header, buffers), daemon=True).start()
        except ConnectionLost as exc:
            self._close(str(exc))
        except (ProtocolError, OSError, ValueError) as exc:
            self._close(f"{type(exc).__name__}: {exc}")

    def _answer(self, header: dict, buffers: list[bytes], spawned: bool = True) -> None:
        rid = header.get("id")
        outer = getattr(self._local, "route", None)
        self._local.route = rid  # what this thread asks while answering is routed back to the asker
        try:
            reply, bufs = self.handler(str(header.get("op")), header, buffers)
        except BaseException as exc:  # every failure of a request goes back as its answer
            reply, bufs = {"error": encode_error(exc)}, []
        finally:
            self._local.route = outer
            if spawned:
                self._answering.release()
            else:
                # Free before the reply leaves: the other side's next request, sent once it has the reply,
                # must find this thread free, or it would run in a thread of its own (where OpenBLAS, for
                # one, ignores a thread limit the main thread did not set).
                with self._state_lock:
                    self._main_busy = False
        try:
            send_frame(self.sock, {**reply, "reply_to": rid}, bufs, self._send_lock)
        except (OSError, TypeError, ValueError) as exc:
            if isinstance(exc, OSError):
                self._close(f"connection lost: {exc}")
            else:  # the reply itself could not be encoded
                send_frame(self.sock, {"error": encode_error(exc), "reply_to": rid}, [], self._send_lock)
