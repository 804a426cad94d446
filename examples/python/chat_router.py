#!/usr/bin/env python3
"""A chat router on the OrleansSessions HTTP API, through the orleans_sessions package (python/ in this repository).

It mirrors the Python TheaRouter.handle_request that the session service replaces: the user's current session is
their newest active session; with none, one is created; each message and its reply are appended to the session's
conversation in one call that also touches it (the router keeps no conversation of its own); when that answers 409
(expired or closed) a new session is created and the reply asks the user to log in again.

    python3 chat_router.py chat alice "hello"            # one message
    python3 chat_router.py chat alice "hola" --lang es
    python3 chat_router.py watch [--user alice]          # live events (server-sent events) until Ctrl+C
    python3 chat_router.py watch --after CURSOR          # resume after an event's "cursor" (0: every retained event)
    python3 chat_router.py selftest                      # exercises the API; exit status 0 when all checks pass

It imports orleans_sessions as installed (pip install ./python), else from this repository's python/ folder.

Options: --base-url (default http://127.0.0.1:8080, or $ORLEANSSESSIONS_URL; several separated by commas: watch
reconnects through the next one, the other commands use the first) and --token (or
$OrleansSessions__Security__ApiToken) when the silo sets Security:ApiToken.

Exit codes, as the C# client app's: 0 done, 1 anything else, 2 bad input (400), 3 not found (404), 4 expired, closed
or at the session limit (409), 5 unreachable, unavailable (503) or refused (401: the C# client fails a refused
certificate the same way); the message names the API's error code.
"""

import argparse
import json
import os
import queue
import sys
import threading
import time
import uuid
from datetime import timedelta

try:
    import orleans_sessions
except ImportError:  # not installed: the package next to this example in the repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "python"))
    import orleans_sessions

from orleans_sessions import (ServiceUnavailable, SessionDataDeleted, SessionEnded, SessionNotFound, SessionsClient,
                              SessionsError)

EXPIRED_MESSAGES = {
    "en": "Session expired. Please log in again.",
    "es": "Sesión expirada. Por favor inicia sesión nuevamente.",
}


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
    """The exit code of a SessionsError: by its API error code, else by its HTTP status, else 1."""
    return EXIT_CODES_BY_ERROR.get(error.code) or EXIT_CODES_BY_STATUS.get(error.status, 1)


def describe(error):
    """One line for a SessionsError, saying what kind of failure it is."""
    kind = {2: "bad input", 3: "not found", 4: "conflict"}.get(exit_code(error))
    if error.status in (401, 403) or error.code == "unauthorized":
        kind = "unauthorized (check --token)"
    elif exit_code(error) == 5:
        kind = "unavailable"
    detail = " ".join(str(error).split())
    return f"{kind}: {detail}" if kind else detail


def unreachable_reason(error, url):
    """The reason of a ServiceUnavailable that got no answer, without the URL the message names already."""
    detail = error.detail or error.code
    return detail[len(url) + 2:] if detail.startswith(url + ": ") else detail


def no_data_routes(error):
    """Whether an error says the silo has no session-data routes (a silo older than session data): 404 not_found."""
    return error.status == 404 and error.code == "not_found"


class ChatRouter:
    """TheaRouter.handle_request on the session service; the conversation lives in the session."""

    def __init__(self, client, lang="en"):
        if lang not in EXPIRED_MESSAGES:
            raise ValueError("lang must be en or es")
        self.client = client
        self.lang = lang
        # None until the first turn tells; False on a silo without session data (the turn is then only a touch).
        self.keeps_conversation = None

    def current_session(self, user_id):
        """The user's newest active session, or None."""
        sessions = self.client.sessions(user_id)
        return max(sessions, key=lambda s: s.created_at) if sessions else None

    def handle_request(self, user_id, message):
        """Returns (reply, session)."""
        session = self.current_session(user_id)
        if session is None:
            session = self.client.create(user_id)
        return self.reply_in(session, message)

    def reply_in(self, session, message):
        """Answers and records the turn in the session; when it has ended (409) or is gone (404), records it in a new
        session instead and asks to log in again."""
        reply = self.process(message)
        try:
            return reply, self.record(session.session_id, message, reply)
        except (SessionEnded, SessionNotFound):
            # Expired or closed since it was listed: a new login is needed.
            reply = EXPIRED_MESSAGES[self.lang]
            fresh = self.client.create(session.user_id)
            return reply, self.record(fresh.session_id, message, reply)

    def record(self, session_id, message, reply):
        """Appends the user's message and the reply in one call, which also touches the session; returns the session.
        On a silo without session data it only touches."""
        if self.keeps_conversation is not False:
            try:
                result = self.client.append(session_id, [("user", message), ("assistant", reply)])
                self.keeps_conversation = True
                return result.session
            except SessionsError as e:
                if not no_data_routes(e):
                    raise
                self.keeps_conversation = False
        return self.client.touch(session_id)

    def process(self, message):
        return ("Dijiste: " if self.lang == "es" else "You said: ") + message


def selftest(client):
    """Exercises create/touch/status/close/history/events and the conversation; returns the number of failed checks."""
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
        except SessionsError as e:
            check(name, e.status == status and e.code == code, f"got {e.status} {e.code}")

    def conversation(session_id):
        return [(m.role, m.content) for m in client.messages(session_id).messages]

    def wait_for(condition, seconds):
        deadline = time.monotonic() + seconds
        while True:
            try:
                if condition():
                    return True
            except SessionsError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def data_deleted(session_id):
        try:
            client.messages(session_id)
            return False
        except SessionDataDeleted:
            return True

    check("healthz", client.health() is not None)
    cluster = client.cluster()
    check("cluster lists silos", isinstance(cluster.get("silos"), list) and len(cluster["silos"]) >= 1, json.dumps(cluster))

    events = queue.Queue()
    stream = client.events(user)

    def follow():
        try:
            for evt in stream:
                events.put(evt)
        except Exception as e:  # noqa: BLE001 - reported through the queue
            events.put(e)

    threading.Thread(target=follow, daemon=True).start()
    check("events stream connected", stream.wait_connected(10))

    router = ChatRouter(client)
    reply, first = router.handle_request(user, "hello")
    check("chat creates a session", reply == "You said: hello" and first.status == "active", reply)
    keeps = router.keeps_conversation
    if keeps:
        check("the turn is in the session's conversation",
              conversation(first.session_id) == [("user", "hello"), ("assistant", "You said: hello")])
    else:
        print("skip conversation checks: this silo has no session-data routes (404 not_found); the router only touches")
    status = client.get(first.session_id)
    check("status is active", status.status == "active" and status.user_id == user)
    touched = client.touch(first.session_id)
    check("touch slides lastActivity", touched.last_activity >= first.last_activity and touched.expires_at >= first.expires_at)
    reply, same = router.handle_request(user, "again")
    check("chat stays in the live session", same.session_id == first.session_id and reply == "You said: again")
    if keeps:
        check("the conversation grows turn by turn", conversation(first.session_id)[2:] == [("user", "again"), ("assistant", "You said: again")]
              and same.message_count == 4)
    check("sessions lists it", [s.session_id for s in client.sessions(user)] == [first.session_id])

    closed = client.close(first.session_id)
    check("close ends it with logout", closed.status == "closed" and closed.end_reason == "logout" and closed.ended_at is not None)
    expect_error("touch after close is 409 session_closed", 409, "session_closed", lambda: client.touch(first.session_id))
    check("closed session stays readable", client.get(first.session_id).status == "closed")
    if keeps:
        expect_error("conversation gone after close (410 session_data_deleted)", 410, "session_data_deleted",
                     lambda: client.messages(first.session_id))

    reply, second = router.handle_request(user, "are you there?")
    check("chat without a live session opens one", reply == "You said: are you there?" and second.session_id != first.session_id, reply)
    reply, third = router.reply_in(closed, "still there?")
    check("message in an ended session asks to log in again", reply == EXPIRED_MESSAGES["en"] and third.session_id not in (first.session_id, second.session_id), reply)
    if keeps:
        check("the new session holds that turn", conversation(third.session_id) == [("user", "still there?"), ("assistant", EXPIRED_MESSAGES["en"])])
    es_reply, _ = ChatRouter(client, "es").reply_in(closed, "hola")
    check("spanish expired reply", es_reply == EXPIRED_MESSAGES["es"], es_reply)
    es_reply, es_session = ChatRouter(client, "es").handle_request(user, "hola")
    check("spanish reply in the newest live session", es_reply == "Dijiste: hola" and es_session.status == "active", es_reply)

    history = client.history(user, 10)
    check("history holds the closed session", [s.session_id for s in history] == [first.session_id])
    live = client.sessions(user)
    closed_all = client.close_all(user)
    check("close all", closed_all == len(live) and len(live) == 3, f"{closed_all} for {len(live)} live")
    history = client.history(user)
    check("history is newest first", len(history) == 4 and history[-1].session_id == first.session_id
          and all(s.end_reason == "logout_all" for s in history[:3])
          and history[0].ended_at >= history[-1].ended_at, json.dumps([s.raw for s in history]))

    expect_error("unknown session is 404", 404, "session_not_found", lambda: client.get("sess_" + str(uuid.uuid4())))
    expect_error("malformed session id is 400", 400, "invalid_session_id", lambda: client.get("not-a-session"))
    expect_error("bad history limit is 400", 400, "invalid_limit", lambda: client.history(user, -1))

    wanted = [("created", first.session_id), ("closed", first.session_id),
              ("created", second.session_id), ("closed", second.session_id),
              ("created", third.session_id), ("closed", third.session_id)]
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(w in seen for w in wanted):
        try:
            evt = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(evt, Exception):
            check("events stream", False, repr(evt))
            break
        seen.append((evt.type, evt.session.session_id))
        at = evt.raw.get("at")
        if not (isinstance(at, str) and at.endswith("Z") and evt.session.user_id == user):
            check("event shape", False, json.dumps(evt.raw))
    check("events: created and closed of each session", all(w in seen for w in wanted), repr(seen))
    stream.close()

    if keeps:
        # A session of its own with a 1 s idle timeout: its conversation is there while it lives, gone once it expired.
        short_router = ChatRouter(client)
        short = client.create(user + "-idle", idle_timeout=timedelta(seconds=1))
        check("a session with a 1 s idle timeout", short.idle_timeout == timedelta(seconds=1), str(short.idle_timeout))
        _, short = short_router.reply_in(short, "quick question")
        check("its conversation is there while it lives", conversation(short.session_id) == [("user", "quick question"), ("assistant", "You said: quick question")])
        check("it expires when idle", wait_for(lambda: client.get(short.session_id).status == "expired", 15))
        check("its conversation is gone after it expired (410 session_data_deleted)", wait_for(lambda: data_deleted(short.session_id), 15))

    print(f"{'PASS' if not failures else 'FAIL'}: {len(failures)} failed check(s)")
    return len(failures)


def watch(urls, token, user_id, reconnect_timeout, out=sys.stdout, after=None):
    """Prints events as JSON lines (each with its "cursor") until Ctrl+C, from the event log after `after` when given
    ("0": everything retained). A lost stream (a silo killed or stopped) is opened again through the URLs in turn,
    resuming after the last event's cursor; when none answers within reconnect_timeout seconds of the loss, raises
    Unreachable. An error answer (SessionsError other than ServiceUnavailable) ends it at once."""
    cursor = after
    lost_at = None
    reason = None
    attempt = 0
    while True:
        url = urls[attempt % len(urls)]
        attempt += 1
        # Each URL gets one connection (reconnect_timeout=0): this loop moves on to the next URL itself.
        stream = SessionsClient(url, token).events(user_id, after=cursor, reconnect_timeout=0)
        try:
            for evt in stream:
                line = dict(evt.raw)
                if evt.cursor is not None:
                    line["cursor"] = evt.cursor
                print(json.dumps(line, ensure_ascii=False), file=out, flush=True)
                if evt.cursor is not None:
                    cursor = evt.cursor
            reason = f"{url} ended the event stream"
        except ServiceUnavailable as e:
            reason = f"{url}: {unreachable_reason(e, url) if e.status is None else e}"
        finally:
            stream.close()
        now = time.monotonic()
        if stream.connections > 0 or lost_at is None:
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
    watching.add_argument("--after", help="resume after this event cursor (0: replay every retained event)")
    watching.add_argument("--reconnect-timeout", type=float, default=10.0,
                       help="seconds to keep trying the URLs after the event stream is lost (default 10)")
    commands.add_parser("selftest", help="exercise the API; exit 0 when every check passes")
    args = parser.parse_args(argv)
    if args.command == "watch" and not args.reconnect_timeout > 0:
        parser.error("--reconnect-timeout must be > 0")

    urls = [u.strip() for u in args.base_url.split(",") if u.strip()] or ["http://127.0.0.1:8080"]
    try:
        client = SessionsClient(urls[0], args.token)
    except ValueError as e:
        parser.error(str(e))
    try:
        if args.command == "chat":
            reply, session = ChatRouter(client, args.lang).handle_request(args.user, args.message)
            print(json.dumps({"reply": reply, "session": session.raw}, ensure_ascii=False))
            return 0
        if args.command == "watch":
            watch(urls, args.token, args.user, args.reconnect_timeout, after=args.after)
            return 0
        return 1 if selftest(client) else 0
    except ServiceUnavailable as e:
        if e.status is not None:
            print(f"error: {describe(e)}", file=sys.stderr)
            return exit_code(e)
        print(f"error: cannot reach {', '.join(urls)}: {unreachable_reason(e, client.base_url)}", file=sys.stderr)
        return 5
    except SessionsError as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return exit_code(e)
    except Unreachable as e:
        print(f"error: cannot reach {', '.join(urls)}: {e}", file=sys.stderr)
        return 5
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
