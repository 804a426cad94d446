"""What the tests share: the silos under test (from the environment), unique users, waiting with a deadline, and
local stand-ins (a TCP proxy that can drop connections, servers that misbehave).

Environment:
  ORLEANSSESSIONS_URL          the silo under test (required), with the silo's defaults (idle timeout 30 min...)
  ORLEANSSESSIONS_TOKEN        its API token, if it has one
  ORLEANSSESSIONS_SHORT_URL    optional: a silo with Sessions:IdleTimeout=00:00:02, Sessions:MaxIdleTimeout=00:05:00,
                               Sessions:DataRetention=00:00:05, Sessions:MaxPerUser=3, Sessions:OverLimit=Reject and
                               Security:ApiToken set (run_tests.py --silo starts both); tests that need it skip without it
  ORLEANSSESSIONS_SHORT_TOKEN  that silo's token
"""

from __future__ import annotations

import os
import socket
import threading
import time
import unittest
import uuid
from typing import Callable, List, Optional, Tuple, TypeVar

from orleans_sessions import SessionsClient, SessionsError

T = TypeVar("T")


def url() -> str:
    value = os.environ.get("ORLEANSSESSIONS_URL")
    if not value:
        raise unittest.SkipTest("ORLEANSSESSIONS_URL is not set (the base URL of a running silo)")
    return value


def client(timeout: float = 10) -> SessionsClient:
    return SessionsClient(url(), os.environ.get("ORLEANSSESSIONS_TOKEN") or None, timeout)


SHORT_IDLE_SECONDS = 2
SHORT_RETENTION_SECONDS = 5
SHORT_MAX_PER_USER = 3


def short_url() -> str:
    value = os.environ.get("ORLEANSSESSIONS_SHORT_URL")
    if not value:
        raise unittest.SkipTest("ORLEANSSESSIONS_SHORT_URL is not set (a silo with a 2 s idle timeout and a token)")
    return value


def short_token() -> str:
    token = os.environ.get("ORLEANSSESSIONS_SHORT_TOKEN")
    if not token:
        raise unittest.SkipTest("ORLEANSSESSIONS_SHORT_TOKEN is not set")
    return token


def short_client(timeout: float = 10) -> SessionsClient:
    return SessionsClient(short_url(), short_token(), timeout)


def new_user(prefix: str = "py") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unknown_session_id() -> str:
    return "sess_" + str(uuid.uuid4())


def wait_until(condition: Callable[[], Optional[T]], timeout: float, what: str, interval: float = 0.05) -> T:
    """Calls condition until it returns a truthy value (returned) or timeout seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except AssertionError as e:
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}" + (f" (last: {last_error})" if last_error else ""))
        time.sleep(interval)


def expect_error(test: unittest.TestCase, cls: type, code: Optional[str], call: Callable[[], object],
                 status: Optional[int] = None) -> SessionsError:
    """Asserts call raises exactly cls (not only a subclass of it) with code and status; returns the error."""
    with test.assertRaises(SessionsError) as caught:
        call()
    error = caught.exception
    test.assertIs(type(error), cls, repr(error))
    if code is not None:
        test.assertEqual(code, error.code, repr(error))
    if status is not None:
        test.assertEqual(status, error.status, repr(error))
    return error


_session_data: Optional[bool] = None


def server_has_session_data() -> bool:
    """Whether the silo under test serves the session-data routes: an unknown session's attributes answer 404
    session_not_found there, and 404 not_found (no such path) on a silo without them."""
    global _session_data
    if _session_data is None:
        try:
            client().attributes(unknown_session_id())
            _session_data = True
        except SessionsError as e:
            _session_data = not (e.status == 404 and e.code == "not_found")
    return _session_data


def require_session_data(test: unittest.TestCase) -> None:
    if not server_has_session_data():
        test.fail("this silo has no session-data routes (GET /api/sessions/{id}/attributes answers 404 not_found)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; cut() drops every open connection (new ones still go through)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: List[Tuple[socket.socket, socket.socket]] = []
        self.accepted = 0
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                downstream.close()
                continue
            with self._lock:
                self._pairs.append((downstream, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(downstream, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, downstream), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> int:
        """Drops the open connections; returns how many."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        return len(pairs)

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
        self.cut()


class SilentServer:
    """Accepts connections and never answers (for timeouts); with reset=True closes each one at once instead."""

    def __init__(self, reset: bool = False) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._reset = reset
        self._held: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            if self._reset:
                connection.recv(65536)
                connection.close()
            else:
                self._held.append(connection)

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()
