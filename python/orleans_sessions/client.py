"""SessionsClient: the HTTP API of an OrleansSessions silo, on the standard library only."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse
from datetime import timedelta
from typing import Any, Dict, Generator, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from ._version import __version__
from ._times import format_duration
from .errors import InvalidArgument, ServiceUnavailable, SessionNotFound, SessionsError, error_from_answer
from .models import AppendResult, Attributes, Conversation, Event, Session, SessionPage

Duration = Union[timedelta, str, int, float]
"""A duration: a datetime.timedelta, a number of seconds, or a string the server reads ("00:30:00", "PT30M")."""

# A message to append: {"role", "content", "metadata"?}; an object with role (or a LangChain-style type) and content;
# or a (role, content) pair.
MessageInput = Union[Mapping[str, Any], Tuple[str, str], Any]

# LangChain's message types and the API's roles.
TYPE_TO_ROLE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
                "user": "user", "assistant": "assistant"}
ROLE_TO_TYPE = {"user": "human", "assistant": "ai", "system": "system", "tool": "tool"}

_Answer = Tuple[int, http.client.HTTPMessage, bytes]


def _quote(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string id, got {type(value).__name__}")
    return urllib.parse.quote(value, safe="")


def message_to_json(message: MessageInput) -> Dict[str, Any]:
    """The wire form {"role", "content", "metadata"?} of a message to append."""
    if isinstance(message, Mapping):
        role = message.get("role") or TYPE_TO_ROLE.get(message.get("type", ""), message.get("type"))
        content = message.get("content")
        metadata = message.get("metadata")
    elif isinstance(message, tuple) and len(message) == 2:
        role, content = TYPE_TO_ROLE.get(message[0], message[0]), message[1]
        metadata = None
    else:
        role = getattr(message, "role", None)
        if not isinstance(role, str):
            kind = getattr(message, "type", None)
            role = TYPE_TO_ROLE.get(kind, kind) if isinstance(kind, str) else None
        content = getattr(message, "content", None)
        metadata = getattr(message, "metadata", None)
    if not isinstance(role, str):
        raise TypeError(f"a message needs a role (user, assistant, system or tool): {message!r}")
    if not isinstance(content, str):
        raise TypeError(f"a message's content must be a string, got {type(content).__name__}")
    wire: Dict[str, Any] = {"role": role, "content": content}
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError("a message's metadata must be a JSON object (a dict)")
        wire["metadata"] = dict(metadata)
    return wire


class SessionsClient:
    """A client of a silo's HTTP API.

    base_url: the silo's address, e.g. "http://127.0.0.1:8080" (a path prefix is kept);
    token: the silo's Security:ApiToken, sent as "Authorization: Bearer <token>";
    timeout: seconds for connecting and for each read of an answer;
    ssl_context: for https, e.g. ssl.create_default_context(cafile="ca.pem") for a private CA.

    Every call is one HTTP request on its own connection; the client holds no state between calls and can be shared
    by threads. Errors are SessionsError subclasses; a refused or reset connection or a timeout is ServiceUnavailable.
    """

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = 10,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")

    def __repr__(self) -> str:
        return f"SessionsClient({self.base_url!r})"

    # ---------------------------------------------------------------- HTTP

    def _connection(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                               context=self.ssl_context or ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, accept: str = "application/json") -> Dict[str, str]:
        headers = {"Accept": accept, "User-Agent": f"orleans-sessions-python/{__version__}"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        return headers

    def _unreachable(self, error: BaseException) -> ServiceUnavailable:
        if isinstance(error, (socket.timeout, TimeoutError)):
            return ServiceUnavailable("timeout", f"{self.base_url} did not answer within {self.timeout:g} s")
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return ServiceUnavailable("unreachable", f"{self.base_url}: {reason}")

    def _send(self, method: str, path: str, body: Any = None, headers: Optional[Mapping[str, str]] = None,
              query: Optional[Mapping[str, Any]] = None) -> _Answer:
        """One request; returns (status, headers, payload) of a 2xx answer, raises SessionsError otherwise."""
        target = self._prefix + path
        if query:
            pairs = [(k, str(v)) for k, v in query.items() if v is not None]
            if pairs:
                target += "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        all_headers = self._headers()
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        connection = self._connection(self.timeout)
        try:
            connection.request(method, target, body=data, headers=all_headers)
            response = connection.getresponse()
            payload = response.read()
            status = response.status
            answer_headers = response.headers
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from None
        finally:
            connection.close()
        if not 200 <= status < 300:
            raise error_from_answer(status, payload, answer_headers.get("Retry-After"))
        return status, answer_headers, payload

    def _json(self, method: str, path: str, body: Any = None, headers: Optional[Mapping[str, str]] = None,
              query: Optional[Mapping[str, Any]] = None) -> Any:
        status, _, payload = self._send(method, path, body, headers, query)
        if not payload:
            return None
        try:
            return json.loads(payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise SessionsError("invalid_answer", f"the answer ({status}) is not JSON", status) from None

    # ---------------------------------------------------------------- sessions

    def create(self, user_id: str, labels: Optional[Mapping[str, str]] = None,
               attributes: Optional[Mapping[str, Any]] = None, idle_timeout: Optional[Duration] = None,
               absolute_timeout: Optional[Duration] = None, continue_from: Optional[str] = None,
               *, idempotency_key: Optional[str] = None) -> Session:
        """Creates a session for user_id (POST /api/sessions).

        labels: up to 16 string pairs (channel, device, locale...); attributes: the session's first attributes;
        idle_timeout / absolute_timeout: shorter (or, where the operator allows, longer) than the silo's;
        continue_from: an ended session of the same user whose data is still kept, whose attributes, labels and last
        messages the new session starts with; idempotency_key: a retry with the same key returns the same session.
        """
        body: Dict[str, Any] = {"userId": user_id}
        if labels is not None:
            body["labels"] = dict(labels)
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if idle_timeout is not None:
            body["idleTimeout"] = format_duration(idle_timeout)
        if absolute_timeout is not None:
            body["absoluteTimeout"] = format_duration(absolute_timeout)
        if continue_from is not None:
            body["continueFrom"] = continue_from
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return Session.from_json(self._json("POST", "/api/sessions", body, headers))

    def get(self, session_id: str) -> Session:
        """The session, live or ended (GET /api/sessions/{id}); SessionNotFound once it has left its user's history."""
        return Session.from_json(self._json("GET", f"/api/sessions/{_quote(session_id)}"))

    def touch(self, session_id: str) -> Session:
        """Records activity: slides the idle deadline. SessionExpired / SessionClosed once it has ended."""
        return Session.from_json(self._json("POST", f"/api/sessions/{_quote(session_id)}/touch"))

    def is_active(self, session_id: str) -> bool:
        """Whether the session is live now (its status as of the server's answer), without touching it.
        False for an ended session and for one the server does not know (SessionNotFound)."""
        try:
            return self.get(session_id).is_active
        except SessionNotFound:
            return False

    def close(self, session_id: str) -> Session:
        """Ends the session (logout); an ended session is returned unchanged."""
        return Session.from_json(self._json("DELETE", f"/api/sessions/{_quote(session_id)}"))

    def sessions_page(self, user_id: str, limit: Optional[int] = None, after: Optional[str] = None) -> SessionPage:
        """One page of the user's live sessions, oldest first (GET /api/users/{u}/sessions?limit=&after=)."""
        _, headers, payload = self._send("GET", f"/api/users/{_quote(user_id)}/sessions",
                                         query={"limit": limit, "after": after})
        sessions = [Session.from_json(s) for s in json.loads(payload.decode("utf-8"))]
        total_header = headers.get("X-Total-Count")
        total = int(total_header) if total_header and total_header.isdigit() else None
        return SessionPage(sessions, total, _next_after(headers.get_all("Link") or []))

    def sessions(self, user_id: str, page_size: int = 1000) -> List[Session]:
        """All the user's live sessions, oldest first, following the pages of GET /api/users/{u}/sessions.

        A session that ends while the pages are read can make a cursor invalid (invalid_cursor): the read then starts
        again from the first page, at most three times.
        """
        for attempt in range(4):
            found: List[Session] = []
            seen = set()
            after: Optional[str] = None
            try:
                while True:
                    page = self.sessions_page(user_id, page_size, after)
                    for session in page.sessions:
                        if session.session_id not in seen:
                            seen.add(session.session_id)
                            found.append(session)
                    if page.next_after is None or page.next_after == after or not page.sessions:
                        return found
                    after = page.next_after
            except InvalidArgument as e:
                if e.code != "invalid_cursor" or after is None or attempt == 3:
                    raise
        raise AssertionError("unreachable")

    def history(self, user_id: str, limit: int = 100) -> List[Session]:
        """The user's ended sessions, newest first (GET /api/users/{u}/history?limit=)."""
        answer = self._json("GET", f"/api/users/{_quote(user_id)}/history", query={"limit": limit})
        return [Session.from_json(s) for s in answer]

    def close_all(self, user_id: str) -> int:
        """Ends every live session of the user (logout everywhere); returns how many were closed."""
        answer = self._json("DELETE", f"/api/users/{_quote(user_id)}/sessions")
        return int(answer.get("closed", 0)) if isinstance(answer, dict) else 0

    # ---------------------------------------------------------------- session data

    def attributes(self, session_id: str) -> Attributes:
        """The session's attributes and data version (GET /api/sessions/{id}/attributes). A read is not activity.
        SessionDataDeleted once the session has ended and its data is gone."""
        return Attributes.from_json(self._json("GET", f"/api/sessions/{_quote(session_id)}/attributes"))

    def set_attributes(self, session_id: str, changes: Mapping[str, Any], if_version: Optional[int] = None) -> Attributes:
        """Sets several attributes in one write; a value None removes its key. With if_version, the write happens only
        if the session's data version is still that one (else VersionConflict, with current_version). The write is
        activity (it slides the idle deadline). Returns the attributes after the write."""
        body: Dict[str, Any] = {"attributes": dict(changes)}
        if if_version is not None:
            body["ifVersion"] = if_version
        return Attributes.from_json(self._json("PATCH", f"/api/sessions/{_quote(session_id)}/attributes", body))

    def messages(self, session_id: str, limit: Optional[int] = None, after: Optional[int] = None) -> Conversation:
        """The session's conversation: the last `limit` messages, or those after message id `after`
        (GET /api/sessions/{id}/messages). A read is not activity."""
        answer = self._json("GET", f"/api/sessions/{_quote(session_id)}/messages", query={"limit": limit, "after": after})
        return Conversation.from_json(answer)

    def append(self, session_id: str, messages: Union[MessageInput, Iterable[MessageInput]],
               if_version: Optional[int] = None) -> AppendResult:
        """Appends one or several messages in one write that also touches the session (a chat turn: the user's
        message and the reply). Each message is {"role", "content", "metadata"?}, an object with role (or type) and
        content, or a (role, content) pair. Returns the messages as stored, with their ids, and the touched session."""
        if isinstance(messages, (Mapping, tuple)) or hasattr(messages, "content"):
            messages = [messages]
        body: Dict[str, Any] = {"messages": [message_to_json(m) for m in messages]}  # type: ignore[union-attr]
        if if_version is not None:
            body["ifVersion"] = if_version
        return AppendResult.from_json(self._json("POST", f"/api/sessions/{_quote(session_id)}/messages", body))

    # ---------------------------------------------------------------- the silo

    def health(self) -> Dict[str, Any]:
        """GET /healthz: {"status": "ok", "silo": ...} once the silo serves; ServiceUnavailable before."""
        answer = self._json("GET", "/healthz")
        return answer if isinstance(answer, dict) else {}

    def cluster(self) -> Dict[str, Any]:
        """GET /api/cluster: the silos and the cluster's session figures, as the JSON object the API returns."""
        answer = self._json("GET", "/api/cluster")
        return answer if isinstance(answer, dict) else {}

    # ---------------------------------------------------------------- events

    def events(self, user_id: Optional[str] = None, after: Optional[Union[str, int]] = None, *,
               reconnect_timeout: Optional[float] = 30.0, read_timeout: float = 60.0) -> "EventStream":
        """Session events from GET /api/events (server-sent events), as an iterator of Event; all users' or one's.

        after: a cursor to start after (sent as ?after=; 0 asks the server to replay what it keeps). When the connection
        drops, the stream connects again by itself, sending Last-Event-ID with the last cursor seen, so a server that
        sends cursors resumes exactly after it; a server that sends none resumes at "now" (events in the gap are
        missed). After a loss it keeps trying for reconnect_timeout seconds (None: forever), then raises
        ServiceUnavailable. Other errors (Unauthorized, InvalidArgument, CursorExpired) are raised at once.
        read_timeout: seconds without a byte before the connection is taken for dead (the server sends a heartbeat
        every 15 s).

        Use it in a for loop, or with `with`; close() (from any thread) ends it.
        """
        return EventStream(self, user_id, None if after is None else str(after), reconnect_timeout, read_timeout)


def _next_after(links: List[str]) -> Optional[str]:
    """The `after` of the rel="next" link of a Link header, if any."""
    for header in links:
        for part in header.split(","):
            if "<" not in part or ">" not in part:
                continue
            target, _, params = part.partition(">")
            target = target.split("<", 1)[1]
            rels = [p.strip() for p in params.split(";") if p.strip().lower().startswith("rel=")]
            if any("next" in r.split("=", 1)[1].strip('"').split() for r in rels):
                values = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query).get("after")
                if values:
                    return values[0]
    return None


class _Closed(Exception):
    """EventStream.close() was called."""


class EventStream(Iterator[Event]):
    """The iterator of SessionsClient.events.

    connected: a threading.Event set while a connection is open and subscribed (nothing published after that moment
    is missed); connections: how many connections have been opened so far; cursor: the last cursor seen (None while
    the server has sent none).
    """

    _MIN_DELAY = 0.25
    _MAX_DELAY = 5.0

    def __init__(self, client: SessionsClient, user_id: Optional[str], after: Optional[str],
                 reconnect_timeout: Optional[float], read_timeout: float) -> None:
        self._client = client
        self._user_id = user_id
        self._after = after
        self._reconnect_timeout = reconnect_timeout
        self._read_timeout = read_timeout
        self.cursor: Optional[str] = after
        self.connected = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._connection: Optional[http.client.HTTPConnection] = None
        self._retry_ms: Optional[int] = None
        self._had_connection = False
        self.connections = 0
        self._events: Generator[Event, None, None] = self._run()

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def wait_connected(self, timeout: Optional[float] = None) -> bool:
        """Waits until a connection is open and subscribed; false after timeout seconds."""
        return self.connected.wait(timeout)

    def close(self) -> None:
        """Ends the stream: a read in progress (in another thread) returns, and the iteration stops."""
        with self._lock:
            self._closed = True
            connection = self._connection
        if connection is not None and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._events.close()  # from the iterating thread itself: ends the generator and its connection now
        except ValueError:
            pass  # running in another thread: it sees the shut socket and stops

    def _open(self, first: bool) -> http.client.HTTPResponse:
        client = self._client
        query: Dict[str, str] = {}
        if self._user_id is not None:
            query["userId"] = self._user_id
        headers = client._headers("text/event-stream")
        headers["Cache-Control"] = "no-cache"
        if first:
            if self._after is not None:
                query["after"] = self._after
        elif self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        target = client._prefix + "/api/events"
        if query:
            target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        connection = client._connection(client.timeout)
        with self._lock:
            if self._closed:
                raise _Closed
            self._connection = connection
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            raise client._unreachable(e) from None
        if response.status != 200:
            payload = b""
            try:
                payload = response.read()
            except (OSError, http.client.HTTPException):
                pass
            connection.close()
            raise error_from_answer(response.status, payload, response.headers.get("Retry-After"))
        if connection.sock is not None:
            connection.sock.settimeout(self._read_timeout)
        return response

    def _run(self) -> Generator[Event, None, None]:
        first = True
        lost_at = time.monotonic()
        delay = self._MIN_DELAY
        last_error: Optional[SessionsError] = None
        while True:
            try:
                response = self._open(first)
                first = False
                try:
                    for event in self._read(response):
                        # A message received: the next loss starts a new reconnection period and backoff.
                        delay = self._MIN_DELAY
                        yield event
                    last_error = ServiceUnavailable("unreachable", f"{self._client.base_url} ended the event stream")
                finally:
                    self.connected.clear()
                    response.close()
                    self._forget_connection()
            except _Closed:
                return
            except ServiceUnavailable as e:
                last_error = e
            except (OSError, http.client.HTTPException, ValueError) as e:
                if self._closed:
                    return
                last_error = self._client._unreachable(e)
            if self._closed:
                return
            # Lost (or never had) a connection: try again until reconnect_timeout has passed since the loss.
            now = time.monotonic()
            if self._had_connection:
                lost_at = now
                self._had_connection = False
                delay = self._MIN_DELAY
            if self._reconnect_timeout is not None and now - lost_at >= self._reconnect_timeout:
                assert last_error is not None
                raise last_error
            wait = delay if self._retry_ms is None else max(delay, self._retry_ms / 1000.0)
            retry_after = getattr(last_error, "retry_after", None)
            if retry_after:
                wait = max(wait, retry_after)
            if self._reconnect_timeout is not None:
                wait = min(wait, max(0.0, lost_at + self._reconnect_timeout - now))
            time.sleep(wait)
            delay = min(delay * 2, self._MAX_DELAY)

    def _forget_connection(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _read(self, response: http.client.HTTPResponse) -> Iterator[Event]:
        """The events of one connection, parsed as the server-sent events format says."""
        data: List[str] = []
        event_id: Optional[str] = None  # the id of the last event of this connection that had one
        while True:
            raw = response.readline()
            if not raw:
                return  # the server ended the stream
            if not self._had_connection:
                # The server writes ": connected" once its subscription is in place.
                self._had_connection = True
                self.connections += 1
                self.connected.set()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line == "":
                if data:
                    text = "\n".join(data)
                    data = []
                    try:
                        payload = json.loads(text)
                        event = Event.from_json(payload, event_id)
                    except (ValueError, KeyError, TypeError):
                        raise SessionsError("invalid_event", f"an event that is not a session event: {text[:200]}") from None
                    if event_id is not None:
                        self.cursor = event_id
                    yield event
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "id":
                if "\0" not in value:
                    event_id = value or None
            elif name == "retry":
                if value.isdigit():
                    self._retry_ms = int(value)
