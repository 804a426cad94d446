"""A session's conversation behind the method names of LangChain's BaseChatMessageHistory (without LangChain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

from .client import ROLE_TO_TYPE, TYPE_TO_ROLE, SessionsClient
from .models import Message


@dataclass
class ChatMessage:
    """A message as chat frameworks see it: type "human", "ai", "system" or "tool" and its content.

    LangChain's messages have the same type and content attributes; id, at and metadata are the stored message's.
    """

    type: str
    content: str
    id: Optional[int] = None
    at: Optional[datetime] = None
    metadata: Optional[Dict[str, Any]] = field(default=None)

    @property
    def role(self) -> str:
        """The API's role of this message (user, assistant, system or tool)."""
        return TYPE_TO_ROLE.get(self.type, self.type)

    @classmethod
    def from_message(cls, message: Message) -> "ChatMessage":
        return cls(ROLE_TO_TYPE.get(message.role, message.role), message.content, message.id, message.at, message.metadata)


class SessionChatHistory:
    """The conversation of one session, with the method names of LangChain's BaseChatMessageHistory:
    messages, add_user_message, add_ai_message, add_message, add_messages and clear.

    Each add is one append through the HTTP API, which also touches the session (slides its idle deadline);
    add_messages appends its whole list in one call (a chat turn: the user's message and the reply). The conversation
    is the session's: it is bounded by the silo (Sessions:ConversationLimit, Sessions:MaxConversationBytes: the oldest
    messages are dropped) and deleted when the session ends; then reads raise SessionDataDeleted, and adds
    SessionExpired or SessionClosed.

    limit: when set, `messages` returns only the last `limit` messages (a context window).
    """

    def __init__(self, client: SessionsClient, session_id: str, limit: Optional[int] = None) -> None:
        self.client = client
        self.session_id = session_id
        self.limit = limit

    def __repr__(self) -> str:
        return f"SessionChatHistory({self.session_id!r})"

    @property
    def messages(self) -> List[ChatMessage]:
        """The conversation, oldest first (the last `limit` messages when limit is set)."""
        conversation = self.client.messages(self.session_id, limit=self.limit)
        return [ChatMessage.from_message(m) for m in conversation.messages]

    def get_messages(self) -> List[ChatMessage]:
        """The same as the messages property."""
        return self.messages

    def add_user_message(self, message: Any) -> None:
        """Appends a user ("human") message: a string, or a message object with content."""
        self.add_message(_as_message("human", message))

    def add_ai_message(self, message: Any) -> None:
        """Appends an assistant ("ai") message: a string, or a message object with content."""
        self.add_message(_as_message("ai", message))

    def add_message(self, message: Any) -> None:
        """Appends one message: an object with type (human, ai, system, tool) or role, and string content, such as a
        ChatMessage or a LangChain message; or a dict {"role", "content", "metadata"?}."""
        self.add_messages([message])

    def add_messages(self, messages: Sequence[Any]) -> None:
        """Appends the messages in one call (all or none are stored)."""
        items = list(messages)
        if items:
            self.client.append(self.session_id, items)

    def clear(self) -> None:
        """Not supported: a session's conversation is append-only and ends with its session.

        Raises NotImplementedError without changing anything. To start a conversation over, close the session
        (client.close(session_id); its conversation is deleted then) and continue in a new session.
        """
        raise NotImplementedError(
            "a session's conversation is append-only and is deleted when its session ends; "
            "to start over, close the session (SessionsClient.close) and use a new one"
        )


def _as_message(kind: str, message: Any) -> Any:
    if isinstance(message, str):
        return ChatMessage(kind, message)
    if isinstance(getattr(message, "content", None), str):
        return ChatMessage(kind, message.content, metadata=getattr(message, "metadata", None))
    raise TypeError(f"expected a string or a message with string content, got {type(message).__name__}")


__all__ = ["ChatMessage", "SessionChatHistory"]
