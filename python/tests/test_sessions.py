"""Sessions through a real silo: lifecycle, pages, history, errors, expiry, limits and the token."""

from __future__ import annotations

import unittest
from datetime import datetime, timezone

import orleans_sessions as sessions
from orleans_sessions import SessionsClient
from support import (SHORT_IDLE_SECONDS, SHORT_MAX_PER_USER, SilentServer, client, expect_error, free_port, new_user,
                     short_client, short_url, unknown_session_id, url, wait_until)


class LifecycleTests(unittest.TestCase):
    def setUp(self) -> None:
        self.client = client()

    def test_create_get_touch_close(self) -> None:
        user = new_user()
        before = datetime.now(timezone.utc)
        created = self.client.create(user)
        self.assertTrue(created.session_id.startswith("sess_"))
        self.assertEqual((user, "active", None, None), (created.user_id, created.status, created.ended_at, created.end_reason))
        self.assertTrue(created.is_active)
        self.assertLess(abs((created.created_at - before).total_seconds()), 60)
        self.assertGreater(created.expires_at, created.created_at)
        self.assertEqual(created.session_id, created.raw["sessionId"])

        self.assertEqual(created, self.client.get(created.session_id))
        self.assertTrue(self.client.is_active(created.session_id))

        touched = self.client.touch(created.session_id)
        self.assertGreaterEqual(touched.last_activity, created.last_activity)
        self.assertGreaterEqual(touched.expires_at, created.expires_at)

        closed = self.client.close(created.session_id)
        self.assertEqual(("closed", "logout"), (closed.status, closed.end_reason))
        self.assertIsNotNone(closed.ended_at)
        self.assertFalse(self.client.is_active(created.session_id))
        self.assertEqual(closed, self.client.get(created.session_id), "an ended session stays readable")
        self.assertEqual(closed.ended_at, self.client.close(created.session_id).ended_at, "closing again changes nothing")
        error = expect_error(self, sessions.SessionClosed, "session_closed", lambda: self.client.touch(created.session_id), 409)
        self.assertIn(created.session_id, error.detail)

    def test_health_and_cluster(self) -> None:
        self.assertEqual("ok", self.client.health().get("status"))
        self.assertGreaterEqual(len(self.client.cluster()["silos"]), 1)

    def test_base_url_with_a_trailing_slash(self) -> None:
        other = SessionsClient(url() + "/", self.client.token)
        self.assertEqual("active", other.create(new_user()).status)

    def test_idempotency_key_returns_the_same_session(self) -> None:
        user = new_user()
        first = self.client.create(user, idempotency_key="order-42")
        again = self.client.create(user, idempotency_key="order-42")
        self.assertEqual(first.session_id, again.session_id)
        self.assertNotEqual(first.session_id, self.client.create(user, idempotency_key="order-43").session_id)

    def test_sessions_follows_every_page_oldest_first(self) -> None:
        user = new_user()
        created = [self.client.create(user).session_id for _ in range(5)]
        page = self.client.sessions_page(user, limit=2)
        self.assertEqual((created[:2], 5, created[1]), ([s.session_id for s in page.sessions], page.total, page.next_after))
        last = self.client.sessions_page(user, limit=2, after=created[3])
        self.assertEqual(([created[4]], None), ([s.session_id for s in last.sessions], last.next_after))
        self.assertEqual(created, [s.session_id for s in self.client.sessions(user, page_size=2)])
        self.assertEqual(created, [s.session_id for s in self.client.sessions(user)])
        self.assertEqual([], self.client.sessions(new_user()))

    def test_sessions_starts_again_from_the_first_page_on_invalid_cursor(self) -> None:
        user = new_user()
        created = [self.client.create(user).session_id for _ in range(4)]
        asked = []
        real_page = self.client.sessions_page

        def page(user_id: str, limit=None, after=None):  # type: ignore[no-untyped-def]
            if len(asked) == 1:
                # As if the cursor's session had ended and been forgotten between two pages: the server answers
                # 400 invalid_cursor ("read again from the first page").
                after = unknown_session_id()
            asked.append(after)
            return real_page(user_id, limit, after)

        self.client.sessions_page = page  # type: ignore[method-assign]
        self.assertEqual(created, [s.session_id for s in self.client.sessions(user, page_size=2)])
        self.assertEqual(4, len(asked))
        self.assertEqual([None, None, created[1]], [asked[0]] + asked[2:])

    def test_history_newest_first_and_close_all(self) -> None:
        user = new_user()
        ids = [self.client.create(user).session_id for _ in range(3)]
        self.client.close(ids[0])
        self.assertEqual(2, self.client.close_all(user))
        self.assertEqual([], self.client.sessions(user))
        history = self.client.history(user)
        self.assertEqual(3, len(history))
        self.assertEqual(ids[0], history[-1].session_id)
        self.assertEqual(["logout_all", "logout_all", "logout"], [s.end_reason for s in history])
        self.assertEqual(sorted(history, key=lambda s: s.ended_at, reverse=True), history)  # type: ignore[arg-type, return-value]
        self.assertEqual(1, len(self.client.history(user, limit=1)))
        self.assertEqual(0, self.client.close_all(user))


class ErrorTests(unittest.TestCase):
    def setUp(self) -> None:
        self.client = client()

    def test_bad_input_is_invalid_argument_with_the_api_code(self) -> None:
        expect_error(self, sessions.InvalidArgument, "invalid_session_id", lambda: self.client.get("not-a-session"), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_user_id", lambda: self.client.create("a/b"), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_user_id", lambda: self.client.sessions("a/b"), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_limit", lambda: self.client.history(new_user(), limit=-1), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_limit", lambda: self.client.sessions_page(new_user(), limit=0), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_cursor",
                     lambda: self.client.sessions_page(new_user(), after="x"), 400)

    def test_unknown_session_is_session_not_found(self) -> None:
        missing = unknown_session_id()
        error = expect_error(self, sessions.SessionNotFound, "session_not_found", lambda: self.client.get(missing), 404)
        self.assertIn(missing, error.detail)
        expect_error(self, sessions.SessionNotFound, "session_not_found", lambda: self.client.touch(missing), 404)
        self.assertFalse(self.client.is_active(missing))

    def test_refused_connection_is_service_unavailable(self) -> None:
        dead = SessionsClient(f"http://127.0.0.1:{free_port()}", timeout=2)
        error = expect_error(self, sessions.ServiceUnavailable, "unreachable", lambda: dead.create(new_user()))
        self.assertIsNone(error.status)
        self.assertTrue(error.__suppress_context__, "no urllib/socket error chained")

    def test_timeout_is_service_unavailable(self) -> None:
        server = SilentServer()
        self.addCleanup(server.close)
        slow = SessionsClient(server.url, timeout=0.3)
        error = expect_error(self, sessions.ServiceUnavailable, "timeout", lambda: slow.get(unknown_session_id()))
        self.assertIsNone(error.status)

    def test_reset_connection_is_service_unavailable(self) -> None:
        server = SilentServer(reset=True)
        self.addCleanup(server.close)
        error = expect_error(self, sessions.ServiceUnavailable, "unreachable",
                             lambda: SessionsClient(server.url, timeout=2).get(unknown_session_id()))
        self.assertIsNone(error.status)


class ShortSiloTests(unittest.TestCase):
    """On the silo of ORLEANSSESSIONS_SHORT_URL: 2 s idle timeout, at most 3 sessions per user (reject), a token."""

    def setUp(self) -> None:
        self.client = short_client()

    def test_idle_session_expires(self) -> None:
        session = self.client.create(new_user())
        self.assertLessEqual((session.expires_at - session.last_activity).total_seconds(), SHORT_IDLE_SECONDS)
        ended = wait_until(lambda: (lambda s: s if not s.is_active else None)(self.client.get(session.session_id)),
                           SHORT_IDLE_SECONDS + 10, "the session expired")
        self.assertEqual(("expired", "idle_timeout"), (ended.status, ended.end_reason))
        self.assertFalse(self.client.is_active(session.session_id))
        expect_error(self, sessions.SessionExpired, "session_expired", lambda: self.client.touch(session.session_id), 409)
        self.assertEqual([session.session_id], [s.session_id for s in self.client.history(session.user_id)])

    def test_touch_keeps_it_alive_past_its_first_deadline(self) -> None:
        session = self.client.create(new_user())
        touched = wait_until(lambda: (lambda s: s if s.expires_at > session.expires_at else None)(
            self.client.touch(session.session_id)), 5, "a touch that slides the deadline")
        self.assertTrue(touched.is_active)

    def test_session_limit_exceeded(self) -> None:
        user = new_user()
        for _ in range(SHORT_MAX_PER_USER):
            self.client.create(user, idle_timeout="00:01:00")
        expect_error(self, sessions.SessionLimitExceeded, "session_limit_exceeded", lambda: self.client.create(user), 409)

    def test_missing_or_wrong_token_is_unauthorized(self) -> None:
        for token in (None, "wrong-token"):
            anonymous = SessionsClient(short_url(), token)
            error = expect_error(self, sessions.Unauthorized, "unauthorized", lambda: anonymous.create(new_user()), 401)
            self.assertTrue(error.detail)
            expect_error(self, sessions.Unauthorized, "unauthorized", lambda: anonymous.sessions(new_user()), 401)


if __name__ == "__main__":
    unittest.main()
