"""Session events (GET /api/events): through a real silo, through a proxy that drops the connection, and the
server-sent events details (cursors, Last-Event-ID, retry) against a local stand-in server."""

from __future__ import annotations

import http.server
import queue
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

import orleans_sessions as sessions
from orleans_sessions import Event, EventStream, SessionsClient
from support import (TcpProxy, client, expect_error, free_port, new_user, short_client, short_url, url, wait_until)


class Collector:
    """Iterates an EventStream on a thread; events (or the error that ended it) go to a queue."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.events: "queue.Queue[object]" = queue.Queue()
        self.seen: List[Event] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            self.events.put(e)
        self.events.put(StopIteration())

    def next(self, timeout: float) -> Event:
        item = self.events.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise AssertionError(f"the stream ended: {item!r}")
        assert isinstance(item, Event)
        self.seen.append(item)
        return item

    def wait_for(self, kind: str, session_id: str, timeout: float = 10) -> Event:
        deadline = time.monotonic() + timeout
        for event in self.seen:
            if (event.type, event.session.session_id) == (kind, session_id):
                return event
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind} event of {session_id} within {timeout:g} s; seen {self.describe()}")
            try:
                event = self.next(remaining)
            except queue.Empty:
                continue
            if (event.type, event.session.session_id) == (kind, session_id):
                return event

    def describe(self) -> str:
        return repr([(e.type, e.session.session_id, e.cursor) for e in self.seen])

    def close(self) -> None:
        self.stream.close()
        self.thread.join(10)


class LiveEventTests(unittest.TestCase):
    def setUp(self) -> None:
        self.client = client()

    def follow(self, stream: EventStream) -> Collector:
        collector = Collector(stream)
        self.addCleanup(collector.close)
        self.assertTrue(stream.wait_connected(10), "the stream connected")
        return collector

    def test_created_and_closed_events_of_one_user(self) -> None:
        user = new_user()
        events = self.follow(self.client.events(user))
        self.client.create(new_user())  # another user's: not in this stream
        session = self.client.create(user)
        created = events.wait_for("created", session.session_id)
        self.client.close(session.session_id)
        closed = events.wait_for("closed", session.session_id)
        self.assertEqual(("active", "closed", "logout"), (created.session.status, closed.session.status, closed.session.end_reason))
        self.assertTrue(all(e.session.user_id == user for e in events.seen), events.describe())
        self.assertLessEqual(created.at, closed.at)
        self.assertEqual(closed.session.session_id, closed.raw["session"]["sessionId"])
        if closed.cursor is not None:
            self.assertEqual(closed.cursor, events.stream.cursor)

    def test_close_from_another_thread_ends_the_iteration(self) -> None:
        stream = self.client.events(new_user())
        collector = Collector(stream)
        self.assertTrue(stream.wait_connected(10))
        started = time.monotonic()
        stream.close()
        collector.thread.join(5)
        self.assertFalse(collector.thread.is_alive(), "the iterating thread returned")
        self.assertLess(time.monotonic() - started, 5)
        self.assertIsInstance(collector.events.get(timeout=1), StopIteration)

    def test_reconnects_by_itself_after_a_dropped_connection(self) -> None:
        host, port = url().split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        proxy = TcpProxy(host, int(port))
        self.addCleanup(proxy.close)
        user = new_user()
        stream = SessionsClient(proxy.url, self.client.token).events(user)
        events = self.follow(stream)
        before = self.client.create(user)
        events.wait_for("created", before.session_id)

        self.assertEqual(1, proxy.cut())
        # Without cursors from the server, events between the drop and the reconnection are not replayed: create
        # sessions until the reconnected stream delivers one.
        def delivered_after_the_drop() -> bool:
            session = self.client.create(user)
            try:
                events.wait_for("created", session.session_id, timeout=1)
                return True
            except AssertionError:
                return False

        wait_until(delivered_after_the_drop, 20, "an event through the reconnected stream", interval=0)
        self.assertGreaterEqual(proxy.accepted, 2)
        self.assertGreaterEqual(stream.connections, 2)

    def test_resumes_exactly_after_its_cursor(self) -> None:
        host, port = url().split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        proxy = TcpProxy(host, int(port))
        self.addCleanup(proxy.close)
        user = new_user()
        events = self.follow(SessionsClient(proxy.url, self.client.token).events(user))
        first = self.client.create(user)
        self.assertIsNotNone(events.wait_for("created", first.session_id).cursor, "each event carries its cursor (SSE id:)")
        proxy.cut()
        in_the_gap = self.client.create(user)
        events.wait_for("created", in_the_gap.session_id, timeout=20)
        later = self.client.create(user)
        events.wait_for("created", later.session_id)
        ids = [e.session.session_id for e in events.seen if e.type == "created"]
        self.assertEqual([first.session_id, in_the_gap.session_id, later.session_id], ids, "each event exactly once")

    def test_replay_from_cursor_zero(self) -> None:
        user = new_user()
        session = self.client.create(user)
        stream = self.client.events(user, after=0, reconnect_timeout=0)
        events = Collector(stream)
        self.addCleanup(events.close)
        event = events.wait_for("created", session.session_id)
        self.assertIsNotNone(event.cursor, "each event carries its cursor (SSE id:)")

    def test_errors_end_the_stream_at_once(self) -> None:
        started = time.monotonic()
        expect_error(self, sessions.InvalidArgument, "invalid_user_id", lambda: next(self.client.events("a/b")), 400)
        anonymous = SessionsClient(short_url(), "wrong-token")
        expect_error(self, sessions.Unauthorized, "unauthorized", lambda: next(anonymous.events()), 401)
        self.assertLess(time.monotonic() - started, 10, "no reconnection attempts on an error answer")

    def test_events_with_a_token(self) -> None:
        with_token = short_client()
        user = new_user()
        events = self.follow(with_token.events(user))
        session = with_token.create(user, idle_timeout="00:01:00")
        events.wait_for("created", session.session_id)

    def test_unreachable_after_the_reconnect_timeout(self) -> None:
        dead = SessionsClient(f"http://127.0.0.1:{free_port()}", timeout=1)
        started = time.monotonic()
        error = expect_error(self, sessions.ServiceUnavailable, "unreachable",
                             lambda: next(dead.events(reconnect_timeout=1.5)))
        elapsed = time.monotonic() - started
        self.assertIsNone(error.status)
        self.assertGreaterEqual(elapsed, 1.4, "it kept trying for the reconnect timeout")
        self.assertLess(elapsed, 6)


class _Script:
    """What the stand-in server sends on each connection, and what each request carried."""

    def __init__(self, answers: List[Tuple[int, str]]) -> None:
        self.answers = answers
        self.requests: List[Tuple[str, Dict[str, str]]] = []


def _stand_in(script: _Script) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            script.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            index = len(script.requests) - 1
            status, body = script.answers[min(index, len(script.answers) - 1)]
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream" if status == 200 else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)  # then the connection ends: a dropped stream

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _event(kind: str, session_id: str, event_id: Optional[str] = None) -> str:
    session = ('{"sessionId":"%s","userId":"u","createdAt":"2026-01-01T00:00:00Z","lastActivity":"2026-01-01T00:00:00Z",'
               '"expiresAt":"2026-01-01T00:30:00Z","status":"active","endedAt":null,"endReason":null}' % session_id)
    text = (f"id: {event_id}\n" if event_id is not None else "") + \
        f'data: {{"type":"{kind}","session":{session},\ndata: "at":"2026-01-01T00:00:00.5Z"}}\n\n'
    return text


class StreamProtocolTests(unittest.TestCase):
    """The server-sent events rules, on a local server that ends its stream after each answer."""

    def run_script(self, answers: List[Tuple[int, str]], count: int, **options: object) -> Tuple[List[Event], _Script]:
        script = _Script(answers)
        server = _stand_in(script)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        client = SessionsClient(f"http://127.0.0.1:{server.server_address[1]}", token="t0k")
        stream = client.events(**options)  # type: ignore[arg-type]
        self.addCleanup(stream.close)
        return [next(stream) for _ in range(count)], script

    def test_cursor_and_last_event_id_on_reconnection(self) -> None:
        events, script = self.run_script([
            (200, ": connected\n\n" + _event("created", "sess_a", "41") + _event("closed", "sess_a", "42")),
            (200, ": connected\n\n" + _event("created", "sess_b", "43")),
        ], 3, user_id="u", after="40")
        self.assertEqual([("created", "sess_a", "41"), ("closed", "sess_a", "42"), ("created", "sess_b", "43")],
                         [(e.type, e.session.session_id, e.cursor) for e in events])
        (first_path, first_headers), (second_path, second_headers) = script.requests[:2]
        self.assertEqual("/api/events?userId=u&after=40", first_path)
        self.assertNotIn("last-event-id", first_headers)
        self.assertEqual("/api/events?userId=u", second_path, "the cursor goes in Last-Event-ID on a reconnection")
        self.assertEqual("42", second_headers["last-event-id"])
        self.assertEqual("Bearer t0k", second_headers["authorization"])
        self.assertEqual("text/event-stream", first_headers["accept"])

    def test_without_ids_the_cursor_is_none_and_no_last_event_id_is_sent(self) -> None:
        events, script = self.run_script([(200, _event("created", "sess_a")), (200, _event("expired", "sess_a"))], 2)
        self.assertEqual([None, None], [e.cursor for e in events])
        self.assertEqual(["expired"], [e.type for e in events[1:]])
        self.assertEqual("/api/events", script.requests[1][0])
        self.assertNotIn("last-event-id", script.requests[1][1])

    def test_the_first_cursor_given_is_resent_when_no_event_came(self) -> None:
        events, script = self.run_script([(200, ": connected\n\n"), (200, _event("created", "sess_a", "8"))], 1, after=7)
        self.assertEqual("8", events[0].cursor)
        self.assertEqual("/api/events?after=7", script.requests[0][0])
        self.assertEqual("7", script.requests[1][1]["last-event-id"])

    def test_a_cursor_too_old_is_cursor_expired(self) -> None:
        script = _Script([(410, '{"error":"cursor_expired","detail":"gone"}')])
        server = _stand_in(script)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        stream = SessionsClient(f"http://127.0.0.1:{server.server_address[1]}").events(after="1")
        expect_error(self, sessions.CursorExpired, "cursor_expired", lambda: next(stream), 410)
        self.assertEqual(1, len(script.requests))

    def test_unavailable_answers_are_retried(self) -> None:
        events, script = self.run_script([
            (503, '{"error":"too_many_subscribers","detail":"full"}'),
            (200, "retry: 10\n" + _event("created", "sess_a", "1")),
        ], 1)
        self.assertEqual("sess_a", events[0].session.session_id)
        self.assertEqual(2, len(script.requests))


if __name__ == "__main__":
    unittest.main()
