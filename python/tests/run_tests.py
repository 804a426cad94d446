#!/usr/bin/env python3
"""Runs the package's tests and ends with one line "python: N passed, N failed, N skipped" (exit 1 on any failure).

    python3 python/tests/run_tests.py                    # against $ORLEANSSESSIONS_URL (and $ORLEANSSESSIONS_SHORT_URL)
    python3 python/tests/run_tests.py --silo silo/bin/Debug/net10.0/OrleansSessions.Silo.dll
        # starts the two silos the tests use (in-memory, on free ports), runs the tests against them, stops them

Extra arguments are test names or patterns for unittest's -k (e.g. -k Events).
The tests import orleans_sessions as installed; this script prints where it was imported from.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Silo:
    """A silo process on free ports, its output in a log file."""

    def __init__(self, dll: str, name: str, settings: Dict[str, str], log_dir: str) -> None:
        self.name = name
        self.http_port = free_port()
        arguments = [f"--Silo:HttpPort={self.http_port}", f"--Silo:SiloPort={free_port()}",
                     f"--Silo:GatewayPort={free_port()}"] + [f"--{k}={v}" for k, v in settings.items()]
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(["dotnet", dll] + arguments, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def wait_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"silo {self.name} exited ({self.process.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"silo {self.name} did not serve /healthz within {timeout:g} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            return "\n".join(line[:400] for line in f.read().decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_silos(dll: str, log_dir: str) -> Tuple[List[Silo], Dict[str, str]]:
    token = secrets.token_urlsafe(24)
    silos = [
        Silo(dll, "silo", {}, log_dir),
        # support.py's "short" silo: what the expiry, limit, token and continuation tests need.
        Silo(dll, "short", {
            "Sessions:IdleTimeout": "00:00:02",
            "Sessions:MaxIdleTimeout": "00:05:00",
            "Sessions:DataRetention": "00:00:05",
            "Sessions:MaxPerUser": "3",
            "Sessions:OverLimit": "Reject",
            "Janitor:Period": "00:00:02",
            "Security:ApiToken": token,
        }, log_dir),
    ]
    env = {"ORLEANSSESSIONS_URL": silos[0].url, "ORLEANSSESSIONS_SHORT_URL": silos[1].url,
           "ORLEANSSESSIONS_SHORT_TOKEN": token}
    return silos, env


def run(patterns: List[str], verbosity: int) -> unittest.TestResult:
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    return unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity).run(suite)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--silo", metavar="DLL", help="start the silos from this OrleansSessions.Silo.dll")
    parser.add_argument("-q", "--quiet", action="store_true", help="one character per test instead of one line")
    parser.add_argument("-k", dest="patterns", action="append", default=[], help="only tests whose name has this")
    args = parser.parse_args(argv)

    sys.path.insert(0, HERE)
    import orleans_sessions  # noqa: E402 - after the path is set, as the tests will import it

    print(f"orleans_sessions {orleans_sessions.__version__} from {os.path.dirname(orleans_sessions.__file__)}", flush=True)
    silos: List[Silo] = []
    log_dir = tempfile.mkdtemp(prefix="orleanssessions-pytest-")
    try:
        if args.silo:
            silos, env = start_silos(args.silo, log_dir)
            for silo in silos:
                silo.wait_serving(60)
            os.environ.update(env)
            print(f"silos: {env['ORLEANSSESSIONS_URL']} and {env['ORLEANSSESSIONS_SHORT_URL']} (logs in {log_dir})", flush=True)
        result = run(args.patterns, 1 if args.quiet else 2)
    except RuntimeError as e:
        print(f"error: {e}", flush=True)
        print("python: 0 passed, 1 failed, 0 skipped")
        return 1
    finally:
        for silo in silos:
            silo.stop()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if failed and silos:
        for silo in silos:
            print(f"--- last lines of silo {silo.name} ({silo.log_path}) ---\n{silo.tail()}")
    if result.testsRun == 0:
        print("no test ran")
        failed = max(failed, 1)
    print(f"python: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
