"""orleans_sessions: a client of the OrleansSessions HTTP API (sessions, session data, events), standard library only.

    from orleans_sessions import SessionsClient
    client = SessionsClient("http://127.0.0.1:8080")
    session = client.create("alice", labels={"channel": "web"})
    client.append(session.session_id, [("user", "hello"), ("assistant", "hi!")])
"""

from ._version import __version__
from .chat_history import ChatMessage, SessionChatHistory
from .client import EventStream, SessionsClient
from .errors import (
    ContinuationNotAllowed,
    CursorExpired,
    DataTooLarge,
    InvalidArgument,
    ServiceUnavailable,
    SessionClosed,
    SessionDataDeleted,
    SessionEnded,
    SessionExpired,
    SessionLimitExceeded,
    SessionNotFound,
    SessionsError,
    Unauthorized,
    VersionConflict,
)
from .models import AppendResult, Attributes, Conversation, Event, Message, Session, SessionPage

__all__ = [
    "__version__",
    "SessionsClient",
    "EventStream",
    "SessionChatHistory",
    "ChatMessage",
    "Session",
    "SessionPage",
    "Attributes",
    "Conversation",
    "Message",
    "AppendResult",
    "Event",
    "SessionsError",
    "InvalidArgument",
    "Unauthorized",
    "SessionNotFound",
    "SessionEnded",
    "SessionExpired",
    "SessionClosed",
    "SessionLimitExceeded",
    "VersionConflict",
    "ContinuationNotAllowed",
    "DataTooLarge",
    "SessionDataDeleted",
    "CursorExpired",
    "ServiceUnavailable",
]
