"""The trusted judge: run a module's graded tests outside the student's process and decide each verdict.

How one notebook is judged (`tito.judge.notebook.judge_notebook`):

1. The notebook runs in its kernel as usual, except that the graded test cells are
   left empty (the tests, hidden ones included, never enter the student's process)
   and one cell is added at the end that hands the process to the judge
   (`tito.judge.server.serve`).
2. Meanwhile the judge, in a process of its own, builds the tests' namespace from the
   trusted copy of the notebook alone (`trusted_setup`): its own builtins; the locked
   cells and the test-helper cell run in the judge; a proxy (`tito.judge.proxy`) for
   each name the solution cells define. What else the student's namespace holds never
   reaches the tests, and the judge never imports the course package.
3. For every graded cell, the student's process forks a session, the judge runs the
   cell's trusted source against it, and the verdict is what the judge saw: the cell
   passed when its source ran to the end without an exception.
4. The graded cells of the executed notebook get the verdicts as outputs (an error
   output for a failure), so nbgrader's own scoring rule gives the judge's grade.

Whatever the student's code does to its own process (exception handlers, AST
transformers, patched libraries, a fake `serve`) can change what it answers, never
how the judge scores the answers: only plain data crosses by value, and a proxy
refuses to compare, test or count on the student's behalf.
"""

from __future__ import annotations

import builtins
import os
import secrets
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from tito.judge.modes import IN_PROCESS
from tito.judge.proxy import JudgeSession, global_proxy
from tito.judge.trusted import TrustedSetup
from tito.judge.wire import ConnectionLost, ProtocolError, no_delay, rebuild_error, recv_frame
from tito.tools.session import current, set_current
from tito.tools.speed import Inconclusive

HANDOVER_SECONDS = 30.0  # how long the judge waits for a forked session to connect
ACCEPT_POLL_SECONDS = 0.25  # how often a wait for a connection looks whether it should stop waiting
HELLO_SECONDS = 5.0  # a connection that does not say who it is within this is dropped
MAX_SIGNS, MAX_SIGN_CHARS = 20, 300  # what the student's process may report about itself, at most
JUDGE_ENAME = "JudgeVerdict"
KILL_SIGNAL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL; its SIGTERM ends the process


@dataclass
class Verdict:
    grade_id: str
    passed: bool
    message: str = ""
    error_type: str = ""
    seconds: float = 0.0
    inconclusive: bool = False  # a check that could not be decided on trusted ground (never a pass)
    lost_process: bool = False  # in-process mode: the test hung or killed the notebook's process


@dataclass
class JudgeReport:
    verdicts: list[Verdict] = field(default_factory=list)
    handed_over: bool = False  # the notebook's process connected to the judge
    signs: list[str] = field(default_factory=list)  # what the student's process reported about tampering
    detail: str = ""
    mode: str = ""  # how the student's process served the tests (tito.judge.modes), in its own words

    def to_dict(self) -> dict:
        return asdict(self)


class Judge:
    """Listens on 127.0.0.1 for the student's process, forks sessions through it, runs the tests."""

    def __init__(self, test_timeout: float, kill: Callable[[int], None] | None = None):
        self.test_timeout = test_timeout
        self.kill = kill or _kill_process
        self.token = secrets.token_hex(16)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port = self.listener.getsockname()[1]
        self.kernel_finished = threading.Event()
        self.on_handover: Callable[[], None] = lambda: None
        self.on_process_lost: Callable[[], None] = lambda: None
        self.mode = ""
        self.control: socket.socket | None = None
        self._control_ids = iter(range(1, 1 << 30))

    # -- connections
    def _accept(self, role: str, until: Callable[[], bool]) -> tuple[socket.socket, dict] | None:
        while not until():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            sock.settimeout(HELLO_SECONDS)
            try:
                hello, _ = recv_frame(sock)
            except (ConnectionLost, ProtocolError, OSError):
                sock.close()
                continue
            if hello.get("token") != self.token or hello.get("role") != role:
                sock.close()
                continue
            sock.settimeout(None)
            return no_delay(sock), hello
        return None

    def _control_request(self, op: str, **extra: Any) -> dict:
        from tito.judge.wire import send_frame

        rid = next(self._control_ids)
        send_frame(self.control, {"op": op, "id": rid, **extra}, [])
        self.control.settimeout(HANDOVER_SECONDS)
        try:
            reply, _ = recv_frame(self.control)
        finally:
            self.control.settimeout(None)
        if reply.get("reply_to") != rid:
            raise ProtocolError("the student's process answered out of turn")
        if "error" in reply:
            raise rebuild_error(reply["error"])
        return reply

    def open_session(self) -> JudgeSession:
        pid = int(self._control_request("fork")["pid"])
        give_up = time.monotonic() + HANDOVER_SECONDS
        accepted = self._accept("session", lambda: time.monotonic() > give_up)
        if accepted is None:
            self.kill(pid)
            raise ConnectionLost("the student's process did not open a session")
        sock, _ = accepted
        return JudgeSession(sock, time.monotonic() + self.test_timeout, pid)

    def end_session(self, session: JudgeSession, timed_out: bool) -> None:
        session.close()
        if timed_out:
            self.kill(session.pid)
        try:
            self._control_request("reap", pid=session.pid)
        except (ConnectionLost, ProtocolError, OSError, TimeoutError):
            self.kill(session.pid)
            raise

    # -- the whole run
    def run(self, graded: list[tuple[str, str]], setup: TrustedSetup, report: JudgeReport) -> None:
        """Judge every graded cell `(grade_id, source)` with the names of `setup`; fills `report`."""
        accepted = self._accept("control", self.kernel_finished.is_set)
        if accepted is None:
            report.detail = "the notebook's process never reached the judge (the notebook stopped early)"
            report.verdicts = [Verdict(g, False, "not run: " + report.detail, "NotRun") for g, _ in graded]
            return
        self.control, _ = accepted
        report.handed_over = True
        self.on_handover()
        try:
            names = self._control_request("names")
            report.signs = [str(s)[:MAX_SIGN_CHARS] for s in names.get("signs", [])][:MAX_SIGNS]
            report.mode = self.mode = str(names.get("mode", ""))[:MAX_SIGN_CHARS]
            namespace = self._namespace(setup, names.get("names", {}))
        except Exception as exc:  # the namespace could not be read: no test can run
            report.detail = f"the judge could not read the notebook's names: {type(exc).__name__}: {exc}"
            report.verdicts = [Verdict(g, False, report.detail, "JudgeError") for g, _ in graded]
            self._close_control()
            return
        broken = ""
        for test_id, source in graded:
            if broken:
                report.verdicts.append(Verdict(test_id, False, f"not run: {broken}", "NotRun"))
                continue
            verdict = self._judge_cell(test_id, source, namespace)
            report.verdicts.append(verdict)
            if verdict.lost_process:
                broken = "the test before it left the notebook's process hung or dead"
                self.on_process_lost()
            elif verdict.error_type == "ConnectionLost" and self.control is None:
                broken = "the notebook's process stopped"
        self._close_control()

    def _drop_control(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None

    def _close_control(self) -> None:
        if self.control is None:
            return
        try:
            self._control_request("done")
        except Exception:
            pass
        self.control.close()
        self.control = None

    def _namespace(self, setup: TrustedSetup, facts: dict) -> "TestNamespace":
        """The tests' globals: the judge's builtins, the setup's names (run here, from the trusted
        source), and a proxy for each of `setup.student_names` that the setup does not define.
        `facts` (the student's process's own report of its names) only says which proxies are
        classes and which names are one object; a name it lists beyond those is ignored."""
        namespace = TestNamespace({"__name__": "__judge__", "__builtins__": builtins})
        exec(compile(setup.source, "<test setup>", "exec"), namespace)  # trusted: the instructor's source
        namespace.trusted.update(namespace)
        by_identity: dict[Any, Any] = {}
        for name in setup.student_names:
            if not name.isidentifier() or name in namespace.trusted or hasattr(builtins, name):
                continue  # the judge's own names and builtins are never the student's
            fact = facts.get(name) if isinstance(facts, dict) else None
            kind, identity = (fact + [None, None])[:2] if isinstance(fact, list) else ("object", None)
            # two names of one object (Linear = Dense) get one proxy, so `Linear is Dense` holds here too
            key = identity if type(identity) is int else ("name", name)
            proxy_object = by_identity.setdefault(key, global_proxy(name, "class" if kind == "class" else "object"))
            namespace.bind_student_name(name, proxy_object)
        return namespace

    def _judge_cell(self, test_id: str, source: str, namespace: "TestNamespace") -> Verdict:
        from tito.tools.testing import describe_failure

        start = time.perf_counter()
        try:
            session = self.open_session()
        except Exception as exc:
            self.control = None if isinstance(exc, (ConnectionLost, OSError)) else self.control
            return Verdict(test_id, False, f"the student's process could not start this test: {exc}",
                           "ConnectionLost", time.perf_counter() - start)
        namespace.reset()
        set_current(session)
        timed_out = False
        try:
            exec(compile(source, f"<{test_id}>", "exec"), namespace)
            verdict = Verdict(test_id, True)
        except BaseException as exc:  # every way a test can end badly is a failed test
            timed_out = isinstance(exc, TimeoutError) and session.deadline <= time.monotonic()
            message = describe_failure(exc)
            if timed_out:
                message = f"timed out: the test ran past its {self.test_timeout:.0f} s limit ({message})"
            elif isinstance(exc, ConnectionLost):
                message = f"the student's process died during the test ({exc})"
            # only the judge's own class counts: an exception from the student's process is rebuilt
            # as another class, whatever its name
            inconclusive = type(exc) is Inconclusive
            verdict = Verdict(test_id, False, f"inconclusive: {exc}" if inconclusive else message,
                              type(exc).__name__, inconclusive=inconclusive)
            # served in the notebook's own process: an overrun or a death took that process with it
            verdict.lost_process = self.mode == IN_PROCESS and (timed_out or isinstance(exc, ConnectionLost))
        finally:
            set_current(None)
            namespace.keep_definitions(source)
        if verdict.lost_process:
            session.close()
            self._drop_control()
        else:
            try:
                self.end_session(session, timed_out)
            except Exception:
                self.control = None
        verdict.seconds = time.perf_counter() - start
        return verdict


class TestNamespace(dict):
    """The tests' globals. `trusted`: the names the trusted copy defines (the setup, and what graded
    cells define as they run), `student`: the proxies of the student's names. Every test starts
    with both bound as they were made; a submission can add or rebind neither.

    `globals()[name] = function` for one of the student's names (a test that wraps a student
    function to watch it) also rebinds that name in the student's process, and assigning the
    original proxy back restores the student's own object there."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.trusted: dict[str, Any] = {}
        self.student: dict[str, Any] = {}

    def bind_student_name(self, name: str, value: Any) -> None:
        self.student[name] = value
        dict.__setitem__(self, name, value)

    def reset(self) -> None:
        """Every trusted name to its trusted value and every student name to its proxy: what one
        test rebound does not reach the next."""
        for name, value in self.student.items():
            dict.__setitem__(self, name, value)
        for name, value in self.trusted.items():
            dict.__setitem__(self, name, value)

    def keep_definitions(self, source: str) -> None:
        """Record the names a graded cell's trusted source defines (its test function, helpers that
        later cells use) as trusted."""
        from tito.judge.signs import assigned_names

        for name in assigned_names(source):
            if name in self:
                self.trusted[name] = dict.__getitem__(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        dict.__setitem__(self, name, value)
        # a function put in place of one of the student's (a spy, a stub) reaches the student's process;
        # any other binding (a test's own `import time`, a list) stays a name of the test's
        session = current() if name in self.student and callable(value) else None
        if session is not None:
            if value is self.student[name]:
                session.request("set_global", [], name=name, restore=True)
            else:
                session.request("set_global", [value], name=name)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def session_killer(uid: int | None) -> Callable[[int], None]:
    """How the judge process stops a session (a fork of the kernel) that overran its test: a process
    of the sandbox user `uid`; without one, a grandchild of the judge's parent (the kernel's child)."""
    def kill(pid: int) -> None:
        if uid is not None:
            try:
                owned = os.stat(f"/proc/{pid}").st_uid == uid
            except OSError:
                return
        else:
            parent = _parent_of(pid)
            owned = parent is not None and _parent_of(parent) == os.getppid()
        if owned:
            try:
                os.kill(pid, KILL_SIGNAL)
            except (ProcessLookupError, PermissionError):
                pass
    return kill


def _kill_process(pid: int) -> None:
    try:
        os.kill(pid, KILL_SIGNAL)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- notebooks
