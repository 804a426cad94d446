"""The API's errors as exceptions: one class per error code, all subclasses of SessionsError."""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type


class SessionsError(Exception):
    """An error answer of the API ({"error": code, "detail": text}), or no answer at all (status None).

    code: the API's error code (session_not_found, invalid_user_id...; "unreachable" or "timeout" when no answer came);
    status: the HTTP status, or None when the request got no answer; detail: the API's explanation;
    body: the parsed JSON body of the answer (or None).
    """

    def __init__(self, code: str, detail: str = "", status: Optional[int] = None, body: Any = None) -> None:
        self.code = code
        self.status = status
        self.detail = detail
        self.body = body
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"HTTP {self.status} {self.code}" if self.status is not None else self.code
        return f"{prefix}: {self.detail}" if self.detail else prefix

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, detail={self.detail!r})"

    def __reduce__(self):  # keeps the attributes when pickled (multiprocessing, some task queues)
        return (_rebuild, (type(self), self.code, self.detail, self.status, self.body))


def _rebuild(cls: Type["SessionsError"], code: str, detail: str, status: Optional[int], body: Any) -> "SessionsError":
    return cls(code, detail, status, body)


class InvalidArgument(SessionsError):
    """400: a caller's mistake (invalid_argument, invalid_user_id, invalid_session_id, invalid_attribute_key,
    invalid_message, invalid_labels, invalid_timeout, invalid_limit, invalid_cursor, invalid_json...)."""


class Unauthorized(SessionsError):
    """401 unauthorized: the silo requires a token (Security:ApiToken) and the request had none or a wrong one."""


class SessionNotFound(SessionsError):
    """404 session_not_found: no such session (or it left its user's history)."""


class SessionEnded(SessionsError):
    """409: the session has ended; see SessionExpired and SessionClosed."""


class SessionExpired(SessionEnded):
    """409 session_expired: the session ended by its idle or absolute timeout."""


class SessionClosed(SessionEnded):
    """409 session_closed: the session was closed (logout, logout-all or eviction)."""


class SessionLimitExceeded(SessionsError):
    """409 session_limit_exceeded: the user is at Sessions:MaxPerUser and the silo rejects more."""


class VersionConflict(SessionsError):
    """409 version_conflict: a write named another data version than the session's; nothing was changed.
    current_version is the session's data version now."""

    @property
    def current_version(self) -> Optional[int]:
        if isinstance(self.body, Mapping):
            value = self.body.get("dataVersion")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None


class ContinuationNotAllowed(SessionsError):
    """409 continuation_not_allowed: continue_from names a live session or another user's session."""


class DataTooLarge(SessionsError):
    """413 data_too_large: the attributes or a message exceed the session's bounds (the detail names which);
    also 413 body_too_large, a request body over the silo's limit."""


class SessionDataDeleted(SessionsError):
    """410 session_data_deleted: the session has ended and its attributes and conversation are deleted."""


class CursorExpired(SessionsError):
    """410 cursor_expired: an event cursor older than the events the server still keeps."""


class ServiceUnavailable(SessionsError):
    """503 (silo_unavailable, timeout, storage_unavailable, too_many_subscribers), 502 or 504; or no answer at
    all: a refused or reset connection, a timeout (status None, code "unreachable" or "timeout")."""

    @property
    def retry_after(self) -> Optional[float]:
        """Seconds from the Retry-After header of the answer, when it had one."""
        return getattr(self, "_retry_after", None)


_BY_CODE: Dict[str, Type[SessionsError]] = {
    "session_not_found": SessionNotFound,
    "session_expired": SessionExpired,
    "session_closed": SessionClosed,
    "session_limit_exceeded": SessionLimitExceeded,
    "version_conflict": VersionConflict,
    "continuation_not_allowed": ContinuationNotAllowed,
    "data_too_large": DataTooLarge,
    "body_too_large": DataTooLarge,
    "session_data_deleted": SessionDataDeleted,
    "cursor_expired": CursorExpired,
    "unauthorized": Unauthorized,
    "silo_unavailable": ServiceUnavailable,
    "storage_unavailable": ServiceUnavailable,
    "too_many_subscribers": ServiceUnavailable,
}

_BY_STATUS: Dict[int, Type[SessionsError]] = {
    400: InvalidArgument,
    401: Unauthorized,
    413: DataTooLarge,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_from_answer(status: int, payload: bytes, retry_after: Optional[str] = None) -> SessionsError:
    """The exception for an error answer: by its API error code, else by its HTTP status, else SessionsError."""
    body: Any = None
    code = f"http_{status}"
    detail = ""
    try:
        body = json.loads(payload.decode("utf-8")) if payload else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        text = body.get("detail")
        detail = text if isinstance(text, str) else ""
    elif payload:
        detail = " ".join(payload.decode("utf-8", "replace").split())[:500]
    cls = _BY_CODE.get(code)
    if cls is None or (code == "unauthorized" and status != 401):
        cls = _BY_STATUS.get(status, SessionsError)
    error = cls(code, detail, status, body)
    if isinstance(error, ServiceUnavailable) and retry_after:
        try:
            error._retry_after = float(retry_after)  # type: ignore[attr-defined]
        except ValueError:
            pass
    return error
