"""The API's JSON shapes as dataclasses (snake_case fields, datetimes in UTC, durations as timedelta)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, Iterator, List, Optional

from ._times import parse_datetime, parse_duration


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Session:
    """A session as the API reports it (SessionInfo).

    The fields after end_reason came with session data; a server without them leaves labels empty and the others None.
    raw is the JSON object as received.
    """

    session_id: str
    user_id: str
    created_at: datetime
    last_activity: datetime
    expires_at: datetime
    status: str
    """"active", "expired" or "closed"."""
    ended_at: Optional[datetime] = None
    end_reason: Optional[str] = None
    """idle_timeout, absolute_timeout, logout, logout_all or evicted; None while active."""
    labels: Dict[str, str] = field(default_factory=dict)
    idle_timeout: Optional[timedelta] = None
    absolute_timeout: Optional[timedelta] = None
    data_version: Optional[int] = None
    message_count: Optional[int] = None
    previous_session_id: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_active(self) -> bool:
        """Whether the session was active when the server answered."""
        return self.status == "active"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Session":
        labels = data.get("labels")
        return cls(
            session_id=data["sessionId"],
            user_id=data["userId"],
            created_at=parse_datetime(data["createdAt"]),  # type: ignore[arg-type]
            last_activity=parse_datetime(data["lastActivity"]),  # type: ignore[arg-type]
            expires_at=parse_datetime(data["expiresAt"]),  # type: ignore[arg-type]
            status=data["status"],
            ended_at=parse_datetime(data.get("endedAt")),
            end_reason=data.get("endReason"),
            labels=dict(labels) if isinstance(labels, Mapping) else {},
            idle_timeout=parse_duration(data.get("idleTimeout")),
            absolute_timeout=parse_duration(data.get("absoluteTimeout")),
            data_version=_int(data.get("dataVersion")),
            message_count=_int(data.get("messageCount")),
            previous_session_id=data.get("previousSessionId"),
            raw=dict(data),
        )


@dataclass
class SessionPage:
    """One page of a user's live sessions, oldest first: total is X-Total-Count (the user's live sessions),
    next_after the cursor of the next page (None on the last)."""

    sessions: List[Session]
    total: Optional[int] = None
    next_after: Optional[str] = None


@dataclass
class Attributes(Mapping):  # type: ignore[type-arg]
    """A session's attributes (key to any JSON value) with their data version; reads like a dict (attrs["locale"],
    attrs.get(...), dict(attrs))."""

    data_version: int
    attributes: Dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.attributes[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.attributes)

    def __len__(self) -> int:
        return len(self.attributes)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Attributes":
        values = data.get("attributes")
        return cls(data_version=_int(data.get("dataVersion")) or 0,
                   attributes=dict(values) if isinstance(values, Mapping) else {})


@dataclass
class Message:
    """A message of a session's conversation: id 1, 2, 3... per session; role user, assistant, system or tool."""

    id: int
    role: str
    content: str
    at: datetime
    metadata: Optional[Dict[str, Any]] = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Message":
        metadata = data.get("metadata")
        return cls(
            id=data["id"],
            role=data["role"],
            content=data["content"],
            at=parse_datetime(data["at"]),  # type: ignore[arg-type]
            metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
        )


@dataclass
class Conversation:
    """Messages of a session's conversation, oldest first; trimmed counts the messages dropped in total by its bounds."""

    data_version: int
    trimmed: int
    messages: List[Message]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Conversation":
        return cls(
            data_version=_int(data.get("dataVersion")) or 0,
            trimmed=_int(data.get("trimmed")) or 0,
            messages=[Message.from_json(m) for m in data.get("messages") or []],
        )


@dataclass
class AppendResult:
    """The answer to an append: the new data version, the messages as stored (with their ids), the session touched."""

    data_version: int
    messages: List[Message]
    session: Session

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "AppendResult":
        return cls(
            data_version=_int(data.get("dataVersion")) or 0,
            messages=[Message.from_json(m) for m in data.get("messages") or []],
            session=Session.from_json(data["session"]),
        )


@dataclass
class Event:
    """A session event: type created, expiring, expired, closed or evicted; the session as of the event; when it
    happened; cursor, the stream's event id to resume after (None from a server that sends no ids)."""

    type: str
    session: Session
    at: datetime
    cursor: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], cursor: Optional[str] = None) -> "Event":
        return cls(
            type=data["type"],
            session=Session.from_json(data["session"]),
            at=parse_datetime(data["at"]),  # type: ignore[arg-type]
            cursor=cursor,
            raw=dict(data),
        )
