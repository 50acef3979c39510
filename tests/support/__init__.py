"""Real processes for integration tests: redis-server, services, workers.

Every helper starts a real process on a free loopback port and stops it on
exit, so tests never share state or need mocks between our own parts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}" + (f": {last_exc!r}" if last_exc else ""))


class Process:
    """A child process with its output in a log file, stopped with SIGTERM then SIGKILL."""

    def __init__(self, args: Sequence[str], cwd: Path | str | None = None,
                 env: Mapping[str, str] | None = None, name: str = "proc") -> None:
        self.args = list(args)
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        full_env = dict(os.environ)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        full_env.update(env or {})
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(self.args, cwd=cwd, env=full_env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
            self.popen.wait(10)


class RedisServer:
    """A throwaway redis-server on a free port, no persistence."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-")
        self.proc = Process([exe, "--port", str(self.port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", self.dir],
                            name="redis")
        import redis
        client = redis.Redis(port=self.port)
        wait_until(client.ping, timeout=10, what="redis-server")
        client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ServiceProcess(Process):
    """A template-based service started exactly as the seed says: `PORT=... python service.py`."""

    def __init__(self, directory: Path | str, env: Mapping[str, str] | None = None,
                 port: int | None = None, name: str = "service") -> None:
        self.port = port or free_port()
        merged = {"PORT": str(self.port), "HOST": "127.0.0.1"}
        merged.update(env or {})
        super().__init__([PYTHON, "service.py"], cwd=directory, env=merged, name=name)
        self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log()}")
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        wait_until(ready, timeout=timeout, what=f"{self.name} on port {self.port}")
