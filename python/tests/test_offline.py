"""The parts that need no silo: the wire forms of times and durations, the error classes, messages and Link headers."""

from __future__ import annotations

import json
import pickle
import unittest
from datetime import datetime, timedelta, timezone

import orleans_sessions as sessions
from orleans_sessions._times import format_duration, parse_datetime, parse_duration
from orleans_sessions.client import _next_after, message_to_json
from orleans_sessions.errors import error_from_answer


class TimesTests(unittest.TestCase):
    def test_instants_with_7_digits_or_fewer_and_offsets(self) -> None:
        self.assertEqual(datetime(2026, 12, 7, 21, 20, 42, 823868, tzinfo=timezone.utc),
                         parse_datetime("2026-12-07T21:20:42.8238684Z"))
        self.assertEqual(datetime(2026, 12, 7, 21, 20, 42, 909670, tzinfo=timezone.utc),
                         parse_datetime("2026-12-07T21:20:42.90967Z"))
        self.assertEqual(datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc), parse_datetime("2026-01-01T14:00:00+02:00"))
        self.assertEqual(timezone.utc, parse_datetime("2026-01-01T14:00:00Z").tzinfo)  # type: ignore[union-attr]
        self.assertIsNone(parse_datetime(None))
        with self.assertRaises(ValueError):
            parse_datetime("yesterday")

    def test_durations_both_ways(self) -> None:
        cases = {
            timedelta(seconds=2): "00:00:02",
            timedelta(minutes=30): "00:30:00",
            timedelta(hours=8, microseconds=500): "08:00:00.000500",
            timedelta(days=1): "P1D",
            timedelta(days=30, hours=2, seconds=5): "P30DT2H5S",
        }
        for value, wire in cases.items():
            self.assertEqual(wire, format_duration(value))
            self.assertEqual(value, parse_duration(wire))
        self.assertEqual("00:01:30", format_duration(90))
        self.assertEqual("PT5M", format_duration("PT5M"))  # strings go as they are
        self.assertEqual(timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000), parse_duration("1.02:03:04.5"))
        self.assertEqual(timedelta(minutes=30), parse_duration("PT30M"))
        self.assertEqual(timedelta(weeks=1, days=1, hours=1.5), parse_duration("P1W1DT1.5H"))
        with self.assertRaises(TypeError):
            format_duration(True)  # type: ignore[arg-type]
        for bad in ("P", "PT", "30 minutes", "1:2"):
            with self.assertRaises(ValueError, msg=bad):
                parse_duration(bad)


class ErrorTests(unittest.TestCase):
    def error(self, status: int, code: str, **extra: object) -> sessions.SessionsError:
        return error_from_answer(status, json.dumps({"error": code, "detail": "why", **extra}).encode())

    def test_one_class_per_code(self) -> None:
        cases = [
            (404, "session_not_found", sessions.SessionNotFound),
            (409, "session_expired", sessions.SessionExpired),
            (409, "session_closed", sessions.SessionClosed),
            (409, "session_limit_exceeded", sessions.SessionLimitExceeded),
            (409, "version_conflict", sessions.VersionConflict),
            (409, "continuation_not_allowed", sessions.ContinuationNotAllowed),
            (413, "data_too_large", sessions.DataTooLarge),
            (410, "session_data_deleted", sessions.SessionDataDeleted),
            (410, "cursor_expired", sessions.CursorExpired),
            (401, "unauthorized", sessions.Unauthorized),
            (503, "silo_unavailable", sessions.ServiceUnavailable),
            (503, "timeout", sessions.ServiceUnavailable),
            (503, "storage_unavailable", sessions.ServiceUnavailable),
            (503, "too_many_subscribers", sessions.ServiceUnavailable),
        ]
        for code in ("invalid_argument", "invalid_user_id", "invalid_attribute_key", "invalid_message", "invalid_labels",
                     "invalid_timeout", "invalid_limit", "invalid_cursor", "invalid_json", "missing_user_id"):
            cases.append((400, code, sessions.InvalidArgument))
        for status, code, cls in cases:
            error = self.error(status, code)
            self.assertIs(cls, type(error), code)
            self.assertIsInstance(error, sessions.SessionsError)
            self.assertEqual((code, status, "why"), (error.code, error.status, error.detail))
            self.assertEqual(f"HTTP {status} {code}: why", str(error))

    def test_ended_sessions_share_a_base(self) -> None:
        self.assertIsInstance(self.error(409, "session_expired"), sessions.SessionEnded)
        self.assertIsInstance(self.error(409, "session_closed"), sessions.SessionEnded)

    def test_version_conflict_carries_the_current_version(self) -> None:
        error = self.error(409, "version_conflict", dataVersion=7)
        assert isinstance(error, sessions.VersionConflict)
        self.assertEqual(7, error.current_version)

    def test_unknown_codes_and_bodies_fall_back_to_the_status(self) -> None:
        self.assertIs(sessions.SessionsError, type(self.error(404, "not_found")))
        self.assertIs(sessions.SessionsError, type(self.error(405, "method_not_allowed")))
        self.assertIs(sessions.InvalidArgument, type(self.error(400, "something_new")))
        plain = error_from_answer(502, b"<html>Bad Gateway</html>")
        self.assertIs(sessions.ServiceUnavailable, type(plain))
        self.assertEqual(("http_502", 502, "<html>Bad Gateway</html>"), (plain.code, plain.status, plain.detail))
        self.assertEqual(5.0, error_from_answer(503, b'{"error":"too_many_subscribers"}', "5").retry_after)  # type: ignore[attr-defined]

    def test_errors_survive_pickling(self) -> None:
        error = pickle.loads(pickle.dumps(self.error(409, "version_conflict", dataVersion=3)))
        self.assertIs(sessions.VersionConflict, type(error))
        self.assertEqual(("version_conflict", 409, "why", 3), (error.code, error.status, error.detail, error.current_version))


class WireTests(unittest.TestCase):
    def test_messages_from_dicts_pairs_and_objects(self) -> None:
        class LangChainLike:
            def __init__(self, type: str, content: str) -> None:
                self.type = type
                self.content = content

        self.assertEqual({"role": "user", "content": "hi"}, message_to_json({"role": "user", "content": "hi"}))
        self.assertEqual({"role": "assistant", "content": "yo", "metadata": {"model": "m"}},
                         message_to_json({"role": "assistant", "content": "yo", "metadata": {"model": "m"}}))
        self.assertEqual({"role": "user", "content": "hi"}, message_to_json(("human", "hi")))
        self.assertEqual({"role": "assistant", "content": "x"}, message_to_json(LangChainLike("ai", "x")))
        self.assertEqual({"role": "tool", "content": "x"}, message_to_json(sessions.ChatMessage("tool", "x")))
        with self.assertRaises(TypeError):
            message_to_json({"role": "user", "content": ["parts"]})
        with self.assertRaises(TypeError):
            message_to_json({"content": "no role"})

    def test_next_page_from_the_link_header(self) -> None:
        self.assertEqual("sess_1", _next_after(['</api/users/u/sessions?limit=2&after=sess_1>; rel="next"']))
        self.assertEqual("sess_2", _next_after(['<http://h/x?after=sess_0>; rel="prev", </x?limit=5&after=sess_2>; rel=next']))
        self.assertIsNone(_next_after([]))
        self.assertIsNone(_next_after(['</x?after=sess_3>; rel="prev"']))

    def test_session_without_the_session_data_fields(self) -> None:
        session = sessions.Session.from_json({
            "sessionId": "sess_x", "userId": "u", "createdAt": "2026-01-01T00:00:00Z",
            "lastActivity": "2026-01-01T00:00:01Z", "expiresAt": "2026-01-01T00:30:01Z", "status": "active",
            "endedAt": None, "endReason": None})
        self.assertEqual(({}, None, None, None, None, None), (session.labels, session.idle_timeout,
                         session.absolute_timeout, session.data_version, session.message_count, session.previous_session_id))
        self.assertTrue(session.is_active)

    def test_attributes_read_like_a_dict(self) -> None:
        attributes = sessions.Attributes.from_json({"dataVersion": 3, "attributes": {"locale": "es", "n": [1]}})
        self.assertEqual(3, attributes.data_version)
        self.assertEqual({"locale": "es", "n": [1]}, dict(attributes))
        self.assertEqual(("es", None, 2), (attributes["locale"], attributes.get("missing"), len(attributes)))
        self.assertEqual([[1]], list(attributes.values())[1:])
        self.assertIn("n", attributes)

    def test_conversation_and_append_result(self) -> None:
        message = {"id": 1, "role": "user", "content": "hi", "at": "2026-01-01T00:00:00.1234567Z"}
        conversation = sessions.Conversation.from_json({"dataVersion": 2, "trimmed": 5, "messages": [message]})
        self.assertEqual((2, 5, 1, None), (conversation.data_version, conversation.trimmed, conversation.messages[0].id,
                                           conversation.messages[0].metadata))
        self.assertEqual(123456, conversation.messages[0].at.microsecond)

    def test_client_needs_an_http_url(self) -> None:
        with self.assertRaises(ValueError):
            sessions.SessionsClient("127.0.0.1:8080")


if __name__ == "__main__":
    unittest.main()
