#!/usr/bin/env python3
"""/healthz and another user's touch while one user's N live sessions are closed, over HTTP on a silo process.

    dotnet build silo -c Release && python3 bench/close_all_probe.py [N]     # N defaults to 50000

Starts the silo host (memory default, ports 11411/30400/8480, idle timeout 1 h), creates N sessions for one user
through POST /api/sessions (8 keep-alive connections), measures GET /healthz and another user's touch on the idle
silo (the floor), then again while DELETE /api/users/{u}/sessions runs, and prints one JSON line with p50/p99/max
of each, the close-all's duration and its answer. Standard library only.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HTTP_PORT = 8480


def connection():
    return http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=120)


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def percentiles(samples):
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    def at(q):
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)
    return {"n": len(ordered), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 2)}


def probe(stop, healthz, touches, session_id):
    conn = connection()
    while not stop.is_set():
        started = time.perf_counter()
        status, _ = request(conn, "GET", "/healthz")
        healthz.append(time.perf_counter() - started)
        assert status == 200, status
        started = time.perf_counter()
        status, _ = request(conn, "POST", f"/api/sessions/{session_id}/touch")
        touches.append(time.perf_counter() - started)
        assert status == 200, status
        time.sleep(0.005)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    silo_dll = os.path.join(ROOT, "silo", "bin", "Release", "net10.0", "OrleansSessions.Silo.dll")
    silo = subprocess.Popen(
        ["dotnet", silo_dll, "--Silo:SiloPort=11411", "--Silo:GatewayPort=30400", f"--Silo:HttpPort={HTTP_PORT}",
         "--Sessions:IdleTimeout=01:00:00", "--Sessions:AbsoluteTimeout=02:00:00", "--Logging:LogLevel:Default=Warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if request(connection(), "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("the silo did not serve /healthz within 60 s")
            time.sleep(0.2)

        user = f"bulk-{os.getpid()}"
        created = [0] * 8
        def create(worker):
            conn = connection()
            for _ in range(worker, count, 8):
                status, _ = request(conn, "POST", "/api/sessions", {"userId": user})
                assert status == 201, status
                created[worker] += 1
        started = time.perf_counter()
        threads = [threading.Thread(target=create, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        create_seconds = time.perf_counter() - started

        status, other = request(connection(), "POST", "/api/sessions", {"userId": f"other-{os.getpid()}"})
        other_id = json.loads(other)["sessionId"]

        def measure(seconds_or_event):
            stop = threading.Event()
            healthz, touches = [], []
            thread = threading.Thread(target=probe, args=(stop, healthz, touches, other_id))
            thread.start()
            if isinstance(seconds_or_event, threading.Event):
                seconds_or_event.wait()
            else:
                time.sleep(seconds_or_event)
            stop.set()
            thread.join()
            return healthz, touches

        idle_healthz, idle_touches = measure(5)

        done = threading.Event()
        result = {}
        def close_all():
            started = time.perf_counter()
            status, body = request(connection(), "DELETE", f"/api/users/{user}/sessions")
            result.update(status=status, body=json.loads(body), seconds=round(time.perf_counter() - started, 2))
            done.set()
        closer = threading.Thread(target=close_all)
        closer.start()
        busy_healthz, busy_touches = measure(done)
        closer.join()

        print(json.dumps({
            "sessions": sum(created),
            "createSeconds": round(create_seconds, 1),
            "closeAll": result,
            "idle": {"healthz": percentiles(idle_healthz), "touch": percentiles(idle_touches)},
            "duringCloseAll": {"healthz": percentiles(busy_healthz), "touch": percentiles(busy_touches)},
            "loadAverage": os.getloadavg()[0],
        }))
        return 0 if result.get("status") == 200 and result["body"].get("closed") == sum(created) else 1
    finally:
        silo.terminate()
        try:
            silo.wait(30)
        except subprocess.TimeoutExpired:
            silo.kill()


if __name__ == "__main__":
    sys.exit(main())
