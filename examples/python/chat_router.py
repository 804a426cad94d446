#!/usr/bin/env python3
"""A chat router on the OrleansSessions HTTP API (standard library only).

It mirrors the Python TheaRouter.handle_request that the session service replaces: the user's current session is
their newest active session; with none, one is created; each message touches it; when the touch answers 409
(expired or closed) a new session is created and the reply asks the user to log in again.

    python3 chat_router.py chat alice "hello"            # one message
    python3 chat_router.py chat alice "hola" --lang es
    python3 chat_router.py watch [--user alice]          # live events (server-sent events) until Ctrl+C
    python3 chat_router.py selftest                      # exercises the API; exit status 0 when all checks pass

Options: --base-url (default http://127.0.0.1:8080, or $ORLEANSSESSIONS_URL; several separated by commas: watch
reconnects through the next one, the other commands use the first) and --token (or
$OrleansSessions__Security__ApiToken) when the silo sets Security:ApiToken.

Exit codes, as the C# client app's: 0 done, 1 anything else, 2 bad input (400), 3 not found (404), 4 expired, closed
or at the session limit (409), 5 unreachable, unavailable (503) or refused (401: the C# client fails a refused
certificate the same way); the message names the API's error code.
"""

import argparse
import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

EXPIRED_MESSAGES = {
    "en": "Session expired. Please log in again.",
    "es": "Sesión expirada. Por favor inicia sesión nuevamente.",
}


class ApiError(Exception):
    """A non-2xx answer: HTTP status plus the API's {"error", "detail"} body."""

    def __init__(self, status, error, detail):
        super().__init__(f"HTTP {status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


class Unreachable(Exception):
    """No URL answered (connection refused, reset, timed out), or an event stream was lost and not regained in time."""


# The API's error codes whose exit code does not follow from the HTTP status alone.
EXIT_CODES_BY_ERROR = {
    "session_not_found": 3,
    "session_expired": 4,
    "session_closed": 4,
    "session_limit_exceeded": 4,
    "silo_unavailable": 5,
    "timeout": 5,
    "storage_unavailable": 5,
    "unauthorized": 5,
}
EXIT_CODES_BY_STATUS = {400: 2, 401: 5, 403: 5, 404: 3, 409: 4, 413: 2, 502: 5, 503: 5, 504: 5}


def exit_code(error):
    """The exit code of an ApiError: by its API error code, else by its HTTP status, else 1."""
    return EXIT_CODES_BY_ERROR.get(error.error) or EXIT_CODES_BY_STATUS.get(error.status, 1)


def describe(error):
    """One line for an ApiError, saying what kind of failure it is."""
    kind = {2: "bad input", 3: "not found", 4: "conflict"}.get(exit_code(error))
    if error.status in (401, 403) or error.error == "unauthorized":
        kind = "unauthorized (check --token)"
    elif exit_code(error) == 5:
        kind = "unavailable"
    detail = " ".join(str(error).split())
    return f"{kind}: {detail}" if kind else detail


def api_error(e):
    """The ApiError of an HTTPError, from the API's {"error", "detail"} body when it has one."""
    payload = e.read()
    try:
        body = json.loads(payload)
        return ApiError(e.code, body.get("error"), body.get("detail"))
    except (ValueError, AttributeError):
        return ApiError(e.code, "http_error", payload.decode("utf-8", "replace"))


class SessionApi:
    """The HTTP API of a silo."""

    def __init__(self, base_url, token=None, timeout=10.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as e:
            raise api_error(e) from None

    @staticmethod
    def _quote(value):
        return urllib.parse.quote(value, safe="")

    def create_session(self, user_id):
        return self._request("POST", "/api/sessions", {"userId": user_id})

    def get_session(self, session_id):
        return self._request("GET", f"/api/sessions/{self._quote(session_id)}")

    def touch(self, session_id):
        return self._request("POST", f"/api/sessions/{self._quote(session_id)}/touch")

    def close(self, session_id):
        return self._request("DELETE", f"/api/sessions/{self._quote(session_id)}")

    def active_sessions(self, user_id):
        return self._request("GET", f"/api/users/{self._quote(user_id)}/sessions")

    def history(self, user_id, limit=None):
        query = "" if limit is None else f"?limit={int(limit)}"
        return self._request("GET", f"/api/users/{self._quote(user_id)}/history{query}")

    def close_all(self, user_id):
        return self._request("DELETE", f"/api/users/{self._quote(user_id)}/sessions")

    def cluster(self):
        return self._request("GET", "/api/cluster")

    def health(self):
        return self._request("GET", "/healthz")

    def events(self, user_id=None, connected=None, stop=None, cursor=None):
        """Yields session events from GET /api/events (server-sent events) until the stream ends or stop is set.

        connected (a threading.Event) is set once the server has subscribed: nothing published later is missed.
        cursor (a dict) carries "id", the last event id seen: sent as Last-Event-ID when set, updated as events come.
        Raises ApiError for an error answer.
        """
        query = "" if user_id is None else "?userId=" + self._quote(user_id)
        request = urllib.request.Request(self.base_url + "/api/events" + query, method="GET")
        request.add_header("Accept", "text/event-stream")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        if cursor is not None and cursor.get("id"):
            request.add_header("Last-Event-ID", cursor["id"])
        try:
            # The server writes a heartbeat comment every ~15 s, so a 60 s read timeout only fires on a dead connection.
            response = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as e:
            raise api_error(e) from None
        with response:
            data = []
            event_id = None
            for raw in response:
                if stop is not None and stop.is_set():
                    return
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith(":"):
                    if connected is not None:
                        connected.set()
                    continue
                if line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif line.startswith("id:"):
                    event_id = line[3:].lstrip(" ")
                elif line == "" and data:
                    if cursor is not None and event_id is not None:
                        cursor["id"] = event_id
                    yield json.loads("\n".join(data))
                    data = []
                    event_id = None


class ChatRouter:
    """TheaRouter.handle_request on the session service."""

    def __init__(self, api, lang="en"):
        if lang not in EXPIRED_MESSAGES:
            raise ValueError("lang must be en or es")
        self.api = api
        self.lang = lang

    def current_session(self, user_id):
        """The user's newest active session, or None."""
        sessions = self.api.active_sessions(user_id)
        return max(sessions, key=lambda s: s["createdAt"]) if sessions else None

    def handle_request(self, user_id, message):
        """Returns (reply, session)."""
        session = self.current_session(user_id)
        if session is None:
            session = self.api.create_session(user_id)
        return self.reply_in(session, message)

    def reply_in(self, session, message):
        """Touches the session and answers; when it has ended (409) or is gone (404), opens a new one and asks to log in again."""
        try:
            session = self.api.touch(session["sessionId"])
        except ApiError as e:
            if e.status in (404, 409):
                # Expired or closed since it was listed: a new login is needed.
                return EXPIRED_MESSAGES[self.lang], self.api.create_session(session["userId"])
            raise
        return self.process(message), session

    def process(self, message):
        return ("Dijiste: " if self.lang == "es" else "You said: ") + message


def selftest(api):
    """Exercises create/touch/status/close/history/events; returns the number of failed checks."""
    failures = []
    user = "py-selftest-" + uuid.uuid4().hex[:8]

    def check(name, condition, detail=""):
        print(("ok   " if condition else "FAIL ") + name + (f" ({detail})" if detail and not condition else ""))
        if not condition:
            failures.append(name)

    def expect_error(name, status, code, call):
        try:
            call()
            check(name, False, "no error")
        except ApiError as e:
            check(name, e.status == status and e.error == code, f"got {e.status} {e.error}")

    check("healthz", api.health() is not None)
    cluster = api.cluster()
    check("cluster lists silos", isinstance(cluster.get("silos"), list) and len(cluster["silos"]) >= 1, json.dumps(cluster))

    events = queue.Queue()
    connected = threading.Event()
    stop = threading.Event()

    def follow():
        try:
            for evt in api.events(user, connected, stop):
                events.put(evt)
        except Exception as e:  # noqa: BLE001 - reported through the queue
            events.put({"type": "error", "error": repr(e)})

    threading.Thread(target=follow, daemon=True).start()
    check("events stream connected", connected.wait(10))

    router = ChatRouter(api)
    reply, first = router.handle_request(user, "hello")
    check("chat creates a session", reply == "You said: hello" and first["status"] == "active", reply)
    status = api.get_session(first["sessionId"])
    check("status is active", status["status"] == "active" and status["userId"] == user)
    touched = api.touch(first["sessionId"])
    check("touch slides lastActivity", touched["lastActivity"] >= first["lastActivity"] and touched["expiresAt"] >= first["expiresAt"])
    reply, same = router.handle_request(user, "again")
    check("chat stays in the live session", same["sessionId"] == first["sessionId"] and reply == "You said: again")
    check("sessions lists it", [s["sessionId"] for s in api.active_sessions(user)] == [first["sessionId"]])

    closed = api.close(first["sessionId"])
    check("close ends it with logout", closed["status"] == "closed" and closed["endReason"] == "logout" and closed["endedAt"])
    expect_error("touch after close is 409 session_closed", 409, "session_closed", lambda: api.touch(first["sessionId"]))
    check("closed session stays readable", api.get_session(first["sessionId"])["status"] == "closed")

    reply, second = router.handle_request(user, "are you there?")
    check("chat without a live session opens one", reply == "You said: are you there?" and second["sessionId"] != first["sessionId"], reply)
    reply, third = router.reply_in(closed, "still there?")
    check("message in an ended session asks to log in again", reply == EXPIRED_MESSAGES["en"] and third["sessionId"] not in (first["sessionId"], second["sessionId"]), reply)
    es_reply, _ = ChatRouter(api, "es").reply_in(closed, "hola")
    check("spanish expired reply", es_reply == EXPIRED_MESSAGES["es"], es_reply)
    es_reply, es_session = ChatRouter(api, "es").handle_request(user, "hola")
    check("spanish reply in the newest live session", es_reply == "Dijiste: hola" and es_session["status"] == "active", es_reply)

    history = api.history(user, 10)
    check("history holds the closed session", [s["sessionId"] for s in history] == [first["sessionId"]])
    live = api.active_sessions(user)
    closed_all = api.close_all(user)
    check("close all", closed_all == {"closed": len(live)} and len(live) == 3, f"{closed_all} for {len(live)} live")
    history = api.history(user)
    check("history is newest first", len(history) == 4 and history[-1]["sessionId"] == first["sessionId"]
          and all(s["endReason"] == "logout_all" for s in history[:3])
          and history[0]["endedAt"] >= history[-1]["endedAt"], json.dumps(history))

    expect_error("unknown session is 404", 404, "session_not_found", lambda: api.get_session("sess_" + str(uuid.uuid4())))
    expect_error("malformed session id is 400", 400, "invalid_session_id", lambda: api.get_session("not-a-session"))
    expect_error("bad history limit is 400", 400, "invalid_limit", lambda: api._request("GET", f"/api/users/{user}/history?limit=-1"))

    wanted = [("created", first["sessionId"]), ("closed", first["sessionId"]),
              ("created", second["sessionId"]), ("closed", second["sessionId"]),
              ("created", third["sessionId"]), ("closed", third["sessionId"])]
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(w in seen for w in wanted):
        try:
            evt = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if evt.get("type") == "error":
            check("events stream", False, evt["error"])
            break
        seen.append((evt["type"], evt["session"]["sessionId"]))
        check_shape = isinstance(evt.get("at"), str) and evt["at"].endswith("Z") and evt["session"]["userId"] == user
        if not check_shape:
            check("event shape", False, json.dumps(evt))
    check("events: created and closed of each session", all(w in seen for w in wanted), repr(seen))
    stop.set()

    print(f"{'PASS' if not failures else 'FAIL'}: {len(failures)} failed check(s)")
    return len(failures)


def watch(urls, token, user_id, reconnect_timeout, out=sys.stdout):
    """Prints events as JSON lines until Ctrl+C. A lost stream (a silo killed or stopped) is opened again through
    the URLs in turn, resuming after the last event id when the server sends ids; when none answers within
    reconnect_timeout seconds of the loss, raises Unreachable. An error answer (ApiError) ends it at once."""
    cursor = {}
    lost_at = None
    reason = None
    attempt = 0
    while True:
        url = urls[attempt % len(urls)]
        attempt += 1
        connected = threading.Event()
        try:
            for evt in SessionApi(url, token).events(user_id, connected, cursor=cursor):
                print(json.dumps(evt, ensure_ascii=False), file=out, flush=True)
            reason = f"{url} ended the event stream"
        except ApiError as e:
            if exit_code(e) != 5 or e.status in (401, 403):
                raise
            reason = f"{url}: {e}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            reason = f"{url}: {getattr(e, 'reason', e)}"
        now = time.monotonic()
        if connected.is_set() or lost_at is None:
            lost_at = now  # the stream had been open: the reconnection time counts from now
        remaining = lost_at + reconnect_timeout - now
        if remaining <= 0:
            raise Unreachable(f"lost the event stream and no URL answered within {reconnect_timeout:g} s (last: {reason})")
        if attempt % len(urls) == 0:
            time.sleep(min(0.5, remaining))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("ORLEANSSESSIONS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("OrleansSessions__Security__ApiToken"))
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="send one message through the router")
    chat.add_argument("user")
    chat.add_argument("message")
    chat.add_argument("--lang", choices=sorted(EXPIRED_MESSAGES), default="en")
    watching = commands.add_parser("watch", help="print live session events")
    watching.add_argument("--user")
    watching.add_argument("--reconnect-timeout", type=float, default=10.0,
                       help="seconds to keep trying the URLs after the event stream is lost (default 10)")
    commands.add_parser("selftest", help="exercise the API; exit 0 when every check passes")
    args = parser.parse_args(argv)
    if args.command == "watch" and not args.reconnect_timeout > 0:
        parser.error("--reconnect-timeout must be > 0")

    urls = [u.strip() for u in args.base_url.split(",") if u.strip()] or ["http://127.0.0.1:8080"]
    api = SessionApi(urls[0], args.token)
    try:
        if args.command == "chat":
            reply, session = ChatRouter(api, args.lang).handle_request(args.user, args.message)
            print(json.dumps({"reply": reply, "session": session}, ensure_ascii=False))
            return 0
        if args.command == "watch":
            watch(urls, args.token, args.user, args.reconnect_timeout)
            return 0
        return 1 if selftest(api) else 0
    except ApiError as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return exit_code(e)
    except Unreachable as e:
        print(f"error: cannot reach {', '.join(urls)}: {e}", file=sys.stderr)
        return 5
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        print(f"error: cannot reach {', '.join(urls)}: {getattr(e, 'reason', e)}", file=sys.stderr)
        return 5
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
