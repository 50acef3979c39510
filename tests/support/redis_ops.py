"""Redis as operators run it, for fault tests: AOF on disk, restarts, pauses, Sentinel failover."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import redis

from tests.support import Process, free_port, wait_until


def _exe() -> str:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    return exe


class DurableRedis:
    """A redis-server with AOF (`appendfsync everysec`, as docker-compose runs it) that can be
    SIGKILLed, restarted on the same port and data directory, paused and resumed."""

    def __init__(self, *extra: str, port: int | None = None, name: str = "redis-aof") -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-aof-")
        self.extra = list(extra)
        self.name = name
        self.proc: Process | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def start(self) -> None:
        self.proc = Process([_exe(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                             *self.extra], name=self.name)
        c = self.client()
        wait_until(c.ping, timeout=20, what=f"{self.name} on {self.port}")
        c.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.alive():
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelGroup:
    """A master, one replica and one Sentinel (quorum 1, 1 s down-after) watching them."""

    MASTER = "orchmaster"

    def __init__(self) -> None:
        self.master = DurableRedis(name="redis-master")
        self.replica = DurableRedis("--replicaof", "127.0.0.1", str(self.master.port), name="redis-replica")
        self.sentinel_port = free_port()
        conf = Path(tempfile.mkdtemp(prefix="sentinel-")) / "sentinel.conf"
        conf.write_text(f"port {self.sentinel_port}\nbind 127.0.0.1\n"
                        f"sentinel monitor {self.MASTER} 127.0.0.1 {self.master.port} 1\n"
                        f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                        f"sentinel failover-timeout {self.MASTER} 5000\n")
        self.conf = conf
        self.sentinel = Process([_exe(), str(conf), "--sentinel"], name="redis-sentinel")
        s = redis.Redis(port=self.sentinel_port, decode_responses=True)
        wait_until(lambda: s.execute_command("SENTINEL", "REPLICAS", self.MASTER), timeout=20,
                   what="sentinel sees the replica")
        s.close()
        r = self.master.client()
        wait_until(lambda: r.info("replication")["connected_slaves"] >= 1, timeout=20, what="replica linked")
        r.close()

    @property
    def sentinels(self) -> str:
        return f"127.0.0.1:{self.sentinel_port}"

    def master_port(self) -> int:
        s = redis.Redis(port=self.sentinel_port, decode_responses=True)
        try:
            return int(s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.MASTER)[1])
        finally:
            s.close()

    def close(self) -> None:
        self.sentinel.stop()
        self.replica.stop()
        self.master.stop()
        shutil.rmtree(self.conf.parent, ignore_errors=True)
