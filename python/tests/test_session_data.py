"""Session data through a real silo: labels and timeouts at creation, attributes, the conversation, its end with the
session, continuation, and SessionChatHistory.

These need the session-data routes (GET|PATCH /api/sessions/{id}/attributes, GET|POST /api/sessions/{id}/messages);
on a silo without them every test here fails.
"""

from __future__ import annotations

import unittest
from datetime import timedelta

import orleans_sessions as sessions
from orleans_sessions import ChatMessage, SessionChatHistory
from support import (SHORT_RETENTION_SECONDS, client, expect_error, new_user, require_session_data, short_client,
                     unknown_session_id, wait_until)


class DataTestCase(unittest.TestCase):
    def setUp(self) -> None:
        require_session_data(self)
        self.client = client()

    def wait_ended(self, client: sessions.SessionsClient, session_id: str, timeout: float = 15) -> sessions.Session:
        return wait_until(lambda: (lambda s: s if not s.is_active else None)(client.get(session_id)), timeout,
                          f"{session_id} ended")

    def wait_data_deleted(self, client: sessions.SessionsClient, session_id: str, timeout: float = 15) -> None:
        def deleted() -> bool:
            try:
                client.messages(session_id)
                return False
            except sessions.SessionDataDeleted:
                return True

        wait_until(deleted, timeout, f"the data of {session_id} deleted")


class CreateTests(DataTestCase):
    def test_labels_attributes_and_timeouts_at_creation(self) -> None:
        session = self.client.create(new_user(), labels={"channel": "web", "locale": "es-ES"},
                                     attributes={"plan": "pro", "n": 3}, idle_timeout=timedelta(minutes=5),
                                     absolute_timeout="01:00:00")
        self.assertEqual({"channel": "web", "locale": "es-ES"}, session.labels)
        self.assertEqual((timedelta(minutes=5), timedelta(hours=1)), (session.idle_timeout, session.absolute_timeout))
        self.assertEqual((0, None), (session.message_count, session.previous_session_id))
        self.assertIsInstance(session.data_version, int)
        self.assertLessEqual(session.expires_at - session.last_activity, timedelta(minutes=5))
        attributes = self.client.attributes(session.session_id)
        self.assertEqual({"plan": "pro", "n": 3}, dict(attributes))
        self.assertEqual(session.data_version, attributes.data_version)
        self.assertEqual(session, self.client.get(session.session_id))

    def test_iso_8601_timeouts(self) -> None:
        session = self.client.create(new_user(), idle_timeout="PT2M", absolute_timeout=timedelta(minutes=10))
        self.assertEqual((timedelta(minutes=2), timedelta(minutes=10)), (session.idle_timeout, session.absolute_timeout))

    def test_bad_labels_and_timeouts(self) -> None:
        user = new_user()
        expect_error(self, sessions.InvalidArgument, "invalid_labels",
                     lambda: self.client.create(user, labels={f"k{i}": "v" for i in range(17)}), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_labels",
                     lambda: self.client.create(user, labels={"bad key": "v"}), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_timeout",
                     lambda: self.client.create(user, idle_timeout=timedelta(milliseconds=500)), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_timeout",
                     lambda: self.client.create(user, idle_timeout="soon"), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_timeout",
                     lambda: self.client.create(user, absolute_timeout=timedelta(days=3650)), 400)
        self.assertEqual([], self.client.sessions(user), "a refused create creates nothing")


class AttributeTests(DataTestCase):
    def test_set_change_and_remove_several_in_one_write(self) -> None:
        session = self.client.create(new_user(), attributes={"a": 1, "b": "two"})
        before = self.client.attributes(session.session_id)
        after = self.client.set_attributes(session.session_id, {"a": None, "b": [2, "x"], "c.d:e-f_g": {"deep": True}})
        self.assertEqual({"b": [2, "x"], "c.d:e-f_g": {"deep": True}}, dict(after))
        self.assertGreater(after.data_version, before.data_version)
        self.assertEqual(after, self.client.attributes(session.session_id))
        self.assertEqual(after.data_version, self.client.get(session.session_id).data_version)

    def test_a_write_is_activity_and_a_read_is_not(self) -> None:
        session = self.client.create(new_user())
        self.client.attributes(session.session_id)
        self.assertEqual(session.last_activity, self.client.get(session.session_id).last_activity, "a read is no activity")
        self.client.set_attributes(session.session_id, {"k": "v"})
        self.assertGreater(self.client.get(session.session_id).last_activity, session.last_activity)

    def test_if_version(self) -> None:
        session = self.client.create(new_user())
        current = self.client.attributes(session.session_id)
        written = self.client.set_attributes(session.session_id, {"k": 1}, if_version=current.data_version)
        error = expect_error(self, sessions.VersionConflict, "version_conflict",
                             lambda: self.client.set_attributes(session.session_id, {"k": 2}, if_version=current.data_version),
                             409)
        assert isinstance(error, sessions.VersionConflict)
        self.assertEqual(written.data_version, error.current_version)
        self.assertEqual({"k": 1}, dict(self.client.attributes(session.session_id)), "a refused write changes nothing")

    def test_bad_keys_and_too_much_data(self) -> None:
        session = self.client.create(new_user())
        expect_error(self, sessions.InvalidArgument, "invalid_attribute_key",
                     lambda: self.client.set_attributes(session.session_id, {"no spaces": 1}), 400)
        expect_error(self, sessions.InvalidArgument, "invalid_attribute_key",
                     lambda: self.client.set_attributes(session.session_id, {"k" * 129: 1}), 400)
        error = expect_error(self, sessions.DataTooLarge, "data_too_large",
                             lambda: self.client.set_attributes(session.session_id, {"big": "x" * 20000}), 413)
        self.assertTrue(error.detail)
        self.assertEqual({}, dict(self.client.attributes(session.session_id)))


class ConversationTests(DataTestCase):
    def test_append_a_chat_turn_and_read_it(self) -> None:
        session = self.client.create(new_user())
        result = self.client.append(session.session_id, [
            {"role": "user", "content": "hola", "metadata": {"lang": "es"}},
            ("assistant", "¡hola!"),
        ])
        self.assertEqual([(1, "user", "hola", {"lang": "es"}), (2, "assistant", "¡hola!", None)],
                         [(m.id, m.role, m.content, m.metadata) for m in result.messages])
        self.assertEqual(session.session_id, result.session.session_id)
        self.assertEqual((2, result.data_version), (result.session.message_count, result.session.data_version))
        self.assertGreater(result.session.last_activity, session.last_activity, "an append touches")

        more = self.client.append(session.session_id, {"role": "system", "content": "be brief"})
        self.assertEqual([3], [m.id for m in more.messages])
        self.client.append(session.session_id, [("tool", "42")])
        conversation = self.client.messages(session.session_id)
        self.assertEqual([1, 2, 3, 4], [m.id for m in conversation.messages])
        self.assertEqual(["user", "assistant", "system", "tool"], [m.role for m in conversation.messages])
        self.assertEqual(0, conversation.trimmed)
        self.assertEqual(result.messages, conversation.messages[:2])
        self.assertEqual([3, 4], [m.id for m in self.client.messages(session.session_id, limit=2).messages])
        self.assertEqual([4], [m.id for m in self.client.messages(session.session_id, after=3).messages])
        self.assertEqual([], self.client.messages(session.session_id, after=4).messages)

    def test_append_if_version_and_bad_messages(self) -> None:
        session = self.client.create(new_user())
        first = self.client.append(session.session_id, [("user", "a")])
        second = self.client.append(session.session_id, [("assistant", "b")], if_version=first.data_version)
        error = expect_error(self, sessions.VersionConflict, "version_conflict",
                             lambda: self.client.append(session.session_id, [("user", "c")], if_version=first.data_version), 409)
        assert isinstance(error, sessions.VersionConflict)
        self.assertEqual(second.data_version, error.current_version)
        expect_error(self, sessions.InvalidArgument, "invalid_message",
                     lambda: self.client.append(session.session_id, [("wizard", "x")]), 400)
        self.assertEqual(2, len(self.client.messages(session.session_id).messages), "refused appends changed nothing")

    def test_a_message_larger_than_the_bound_is_refused(self) -> None:
        session = self.client.create(new_user())
        expect_error(self, sessions.DataTooLarge, None,
                     lambda: self.client.append(session.session_id, [("user", "x" * 300_000)]), 413)
        self.assertEqual([], self.client.messages(session.session_id).messages)

    def test_oldest_messages_are_trimmed_past_the_limit(self) -> None:
        session = self.client.create(new_user())
        for start in range(0, 210, 30):
            self.client.append(session.session_id, [("user", f"m{i}") for i in range(start, start + 30)])
        conversation = self.client.messages(session.session_id)
        self.assertEqual(10, conversation.trimmed)
        self.assertEqual((11, 210), (conversation.messages[0].id, conversation.messages[-1].id))
        self.assertEqual(200, len(conversation.messages))


class EndTests(DataTestCase):
    def test_data_is_gone_after_close(self) -> None:
        session = self.client.create(new_user(), attributes={"k": "v"})
        self.client.append(session.session_id, [("user", "hi"), ("assistant", "hello")])
        self.client.close(session.session_id)
        expect_error(self, sessions.SessionDataDeleted, "session_data_deleted", lambda: self.client.messages(session.session_id), 410)
        expect_error(self, sessions.SessionDataDeleted, "session_data_deleted", lambda: self.client.attributes(session.session_id), 410)
        expect_error(self, sessions.SessionClosed, "session_closed",
                     lambda: self.client.append(session.session_id, [("user", "again")]), 409)
        expect_error(self, sessions.SessionClosed, "session_closed",
                     lambda: self.client.set_attributes(session.session_id, {"k": None}), 409)

    def test_data_is_gone_after_expiry(self) -> None:
        session = self.client.create(new_user(), idle_timeout=timedelta(seconds=1))
        self.client.append(session.session_id, [("user", "hi")])
        ended = self.wait_ended(self.client, session.session_id)
        self.assertEqual("idle_timeout", ended.end_reason)
        self.wait_data_deleted(self.client, session.session_id)
        expect_error(self, sessions.SessionExpired, "session_expired",
                     lambda: self.client.append(session.session_id, [("user", "late")]), 409)

    def test_unknown_session(self) -> None:
        missing = unknown_session_id()
        expect_error(self, sessions.SessionNotFound, "session_not_found", lambda: self.client.messages(missing), 404)
        expect_error(self, sessions.SessionNotFound, "session_not_found", lambda: self.client.attributes(missing), 404)


class ContinuationTests(DataTestCase):
    """On the short silo: Sessions:DataRetention 5 s, Sessions:MaxIdleTimeout 5 min."""

    def setUp(self) -> None:
        super().setUp()
        self.short = short_client()

    def test_continue_from_an_ended_session(self) -> None:
        user = new_user()
        old = self.short.create(user, labels={"device": "phone"}, attributes={"topic": "billing"}, idle_timeout="00:01:00")
        self.short.append(old.session_id, [("user", "my bill"), ("assistant", "let me look")])
        self.short.close(old.session_id)

        new = self.short.create(user, continue_from=old.session_id, idle_timeout="00:01:00")
        self.assertEqual(old.session_id, new.previous_session_id)
        self.assertEqual({"device": "phone"}, new.labels)
        self.assertEqual({"topic": "billing"}, dict(self.short.attributes(new.session_id)))
        self.assertEqual([("user", "my bill"), ("assistant", "let me look")],
                         [(m.role, m.content) for m in self.short.messages(new.session_id).messages])
        self.assertEqual({"topic": "billing"}, dict(self.short.attributes(old.session_id)), "kept read-only while retained")

    def test_refusals_create_nothing(self) -> None:
        user = new_user()
        live = self.short.create(user, idle_timeout="00:01:00")
        expect_error(self, sessions.ContinuationNotAllowed, "continuation_not_allowed",
                     lambda: self.short.create(user, continue_from=live.session_id), 409)
        others = self.short.create(new_user(), idle_timeout="00:01:00")
        self.short.close(others.session_id)
        expect_error(self, sessions.ContinuationNotAllowed, "continuation_not_allowed",
                     lambda: self.short.create(user, continue_from=others.session_id), 409)
        expect_error(self, sessions.SessionNotFound, "session_not_found",
                     lambda: self.short.create(user, continue_from=unknown_session_id()), 404)
        self.assertEqual([live.session_id], [s.session_id for s in self.short.sessions(user)])

    def test_not_after_the_data_retention(self) -> None:
        user = new_user()
        old = self.short.create(user, idle_timeout="00:01:00")
        self.short.close(old.session_id)
        self.wait_data_deleted(self.short, old.session_id, SHORT_RETENTION_SECONDS + 15)
        expect_error(self, sessions.SessionDataDeleted, "session_data_deleted",
                     lambda: self.short.create(user, continue_from=old.session_id), 410)


class ChatHistoryTests(DataTestCase):
    def test_the_langchain_method_names(self) -> None:
        session = self.client.create(new_user())
        history = SessionChatHistory(self.client, session.session_id)
        history.add_user_message("hello")
        history.add_ai_message("hi, how can I help?")
        history.add_messages([ChatMessage("human", "my order"), ChatMessage("ai", "which one?")])

        class LangChainLike:  # what LangChain's messages look like to this class: type and content
            type = "system"
            content = "be brief"

        history.add_message(LangChainLike())
        self.assertEqual([("human", "hello"), ("ai", "hi, how can I help?"), ("human", "my order"), ("ai", "which one?"),
                          ("system", "be brief")], [(m.type, m.content) for m in history.messages])
        self.assertEqual(["user", "assistant"], [m.role for m in history.messages[:2]])
        self.assertEqual([4, 5], [m.id for m in SessionChatHistory(self.client, session.session_id, limit=2).messages])

    def test_clear_changes_nothing_and_says_why(self) -> None:
        session = self.client.create(new_user())
        history = SessionChatHistory(self.client, session.session_id)
        history.add_user_message("keep me")
        with self.assertRaises(NotImplementedError) as caught:
            history.clear()
        self.assertIn("close", str(caught.exception))
        self.assertEqual(["keep me"], [m.content for m in history.messages])
        self.assertTrue(self.client.is_active(session.session_id))

    def test_an_ended_session(self) -> None:
        session = self.client.create(new_user())
        history = SessionChatHistory(self.client, session.session_id)
        history.add_user_message("bye")
        self.client.close(session.session_id)
        with self.assertRaises(sessions.SessionDataDeleted):
            history.messages
        with self.assertRaises(sessions.SessionClosed):
            history.add_ai_message("too late")


if __name__ == "__main__":
    unittest.main()
