"""A small asyncio HTTP/1.1 client for the control calls (JSON in, JSON out).

(Named `http11`, not `http`: run from orchestrator/, a module `http` would shadow the standard library.)

Why not httpx here: a worker keeps hundreds of long-polls open at once, and
httpcore's pool rescans every connection on every request (quadratic) and
re-tries a failed optional import per call; profiled, that was ~20 ms of CPU
per node. This client keeps idle keep-alive connections per host in a list,
so a request costs O(1) bookkeeping.

It speaks just what the control interface needs: a request with an optional
JSON body; a response with Content-Length, chunked encoding, or read to EOF.

Stale connections. Servers close keep-alive connections that stay idle too
long (uvicorn: 5 s). After a burst of parallel nodes a worker holds many idle
connections, all closed by the server a few seconds later, so the pool:

* never hands out a connection idle for more than `idle_timeout` (default 4 s,
  below uvicorn's 5 s; `ORCHESTRATOR_HTTP_IDLE_TIMEOUT`), nor one the server
  already closed (EOF seen, or its transport closing);
* when a request on a *reused* connection fails before any response byte
  arrived (the server closed it just as we sent), drops every idle connection
  to that host - they are as old or older - and sends the request once more on
  a *fresh* connection. Only a failure on a fresh connection is reported as a
  transport fault. Re-sending is safe for every control call, POSTs included:
  `execute` is idempotent by task id (a repeated task id returns the existing
  task) and `stop` of a stopped task is a no-op.

Egress and size. With a `policy` (`taskservice.netpolicy.HostPolicy`), every new
connection resolves the host, checks every address it resolves to and connects
to a checked address (a `PolicyRefused` is raised before anything is sent, so no
key reaches a refused host). With `max_response_bytes`, a larger answer is
refused while it is read (`ResponseTooLarge`), never held whole.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl as ssl_module
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode, urlsplit

from orchestrator import fastjson
from taskservice.netpolicy import HostPolicy, PolicyRefused

_MAX_HEADER = 64 * 1024
_READ_CHUNK = 256 * 1024
_RESOLVE_TTL = 2.0  # seconds a checked resolution is reused (a burst of connections resolves once)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HTTPError(Exception):
    """Transport failure: refused, reset, timed out, malformed answer."""


class ResponseTooLarge(HTTPError):
    """The answer is larger than the client's `max_response_bytes`."""


class _StaleConnection(Exception):
    """A reused connection failed before any response byte: the server had closed it."""


class _Conn:
    __slots__ = ("reader", "writer", "last_used")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = 0.0  # time.monotonic() when it went back to the pool

    def usable(self) -> bool:
        """False when the server already closed it (EOF seen) or it is closing on our side."""
        return not (self.reader.at_eof() or self.writer.transport.is_closing())

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket
            pass


class HTTPClient:
    def __init__(self, timeout: float = 10.0, max_idle_per_host: int = 256, idle_timeout: float = 4.0, *,
                 policy: HostPolicy | None = None, max_response_bytes: int | None = None) -> None:
        self.timeout = timeout
        self.policy = policy
        self.max_response_bytes = max_response_bytes
        self._resolved: dict[tuple[str, int], tuple[str, float]] = {}  # (host, port) -> (checked address, until)
        self.max_idle = max_idle_per_host
        self.idle_timeout = idle_timeout  # keep below the servers' keep-alive timeout (uvicorn: 5 s)
        # per host: idle connections, oldest first (returned to the right, taken from the right)
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._ssl: ssl_module.SSLContext | None = None

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()

    def idle_count(self, key: tuple[str, str, int] | None = None) -> int:
        if key is not None:
            return len(self._idle.get(key, ()))
        return sum(len(v) for v in self._idle.values())

    def _prune(self, pool: deque[_Conn], now: float) -> None:
        """Close the connections idle for longer than `idle_timeout` (they sit at the left)."""
        limit = now - self.idle_timeout
        while pool and pool[0].last_used < limit:
            pool.popleft().close()

    def _take(self, key: tuple[str, str, int]) -> _Conn | None:
        """A pooled connection that is still open and not too old, or None."""
        pool = self._idle.get(key)
        if not pool:
            return None
        self._prune(pool, time.monotonic())
        while pool:
            conn = pool.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def _give_back(self, key: tuple[str, str, int], conn: _Conn) -> None:
        pool = self._idle.get(key)
        if pool is None:
            pool = self._idle[key] = deque()
        now = time.monotonic()
        self._prune(pool, now)
        if len(pool) < self.max_idle and conn.usable():
            conn.last_used = now
            pool.append(conn)
        else:
            conn.close()

    def _drop_idle(self, key: tuple[str, str, int]) -> None:
        pool = self._idle.pop(key, None)
        for c in pool or ():
            c.close()

    async def _resolve(self, host: str, port: int) -> str:
        """A checked address of `host`: resolved and checked at most every `_RESOLVE_TTL` seconds (the
        address itself was checked, so connecting to it stays safe whatever the name resolves to now)."""
        now = time.monotonic()
        hit = self._resolved.get((host, port))
        if hit is not None and hit[1] > now:
            return hit[0]
        assert self.policy is not None
        address = (await self.policy.aresolve(host, port))[0]
        if len(self._resolved) > 1024:
            self._resolved.clear()
        self._resolved[(host, port)] = (address, now + _RESOLVE_TTL)
        return address

    async def _connect(self, key: tuple[str, str, int]) -> _Conn:
        scheme, host, port = key
        ssl = None
        if scheme == "https":
            ssl = self._ssl = self._ssl or ssl_module.create_default_context()
        address = host
        if self.policy is not None:
            if _is_address(host):  # nothing to resolve: check it as it is
                self.policy.check_address(host, host, port)
            else:
                address = await self._resolve(host, port)
        reader, writer = await asyncio.open_connection(address, port, ssl=ssl, limit=_MAX_HEADER,
                                                       server_hostname=host if ssl else None)
        return _Conn(reader, writer)

    async def request(self, method: str, url: str, *, json_body: Any = None, params: dict[str, str] | None = None,
                      headers: dict[str, str] | None = None, timeout: float | None = None) -> tuple[int, bytes]:
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        port = parts.port or (443 if scheme == "https" else 80)
        host = parts.hostname or "localhost"
        key = (scheme, host, port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        body = b"" if json_body is None else fastjson.dumps_bytes(json_body)
        head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json",
                "Connection: keep-alive", f"Content-Length: {len(body)}"]
        if json_body is not None:
            head.append("Content-Type: application/json")
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            async with asyncio.timeout(timeout if timeout is not None else self.timeout):
                conn = self._take(key)
                if conn is not None:
                    try:
                        return await self._exchange(key, conn, raw, method, reused=True)
                    except _StaleConnection:
                        # The server closed it as we sent: the other idle ones to this host are as
                        # old or older, so drop them all and send once more on a fresh connection.
                        # Safe for a POST too: execute is idempotent by task id (see the docstring).
                        self._drop_idle(key)
                conn = await self._connect(key)
                return await self._exchange(key, conn, raw, method, reused=False)
        except PolicyRefused:
            raise
        except TimeoutError as exc:
            raise HTTPError(f"timed out after {timeout or self.timeout:g} s: {method} {url}") from exc
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise HTTPError(f"{type(exc).__name__}: {exc} ({method} {url})") from exc

    async def _exchange(self, key: tuple[str, str, int], conn: _Conn, raw: bytes, method: str, *,
                        reused: bool) -> tuple[int, bytes]:
        """One request on `conn`; raises `_StaleConnection` when a reused one failed before any answer."""
        answered = False
        try:
            conn.writer.write(raw)
            await conn.writer.drain()
            head = await self._read_head(conn.reader)
            answered = True
            status, data, keep = await self._read(conn.reader, method, head, self.max_response_bytes)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            conn.close()
            nothing = not answered and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial)
            if reused and nothing:
                raise _StaleConnection() from exc
            raise
        except BaseException:
            conn.close()
            raise
        if keep:
            self._give_back(key, conn)
        else:
            conn.close()
        return status, data

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> bytes:
        try:
            return await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HTTPError("response headers too large") from exc

    @staticmethod
    async def _read(reader: asyncio.StreamReader, method: str, head: bytes,
                    limit: int | None = None) -> tuple[int, bytes, bool]:
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
            raise HTTPError(f"not an HTTP response: {lines[0][:80]!r}")
        if not (status_line[1].isascii() and status_line[1].isdigit()):
            raise HTTPError(f"not an HTTP status: {lines[0][:80]!r}")
        status = int(status_line[1])
        hdrs: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
        keep = hdrs.get("connection", "").lower() != "close" and status_line[0] != "HTTP/1.0"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, b"", keep
        def too_large(size: int) -> ResponseTooLarge:
            return ResponseTooLarge(f"response larger than {limit} bytes ({size} or more; "
                                    "ORCHESTRATOR_MAX_RESPONSE_BYTES)")

        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                total += size
                if limit is not None and total > limit:
                    raise too_large(total)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            return status, b"".join(chunks), keep
        if "content-length" in hdrs:
            length = int(hdrs["content-length"])
            if limit is not None and length > limit:
                raise too_large(length)
            return status, await reader.readexactly(length), keep
        parts: list[bytes] = []
        total = 0
        while chunk := await reader.read(_READ_CHUNK):
            total += len(chunk)
            if limit is not None and total > limit:
                raise too_large(total)
            parts.append(chunk)
        return status, b"".join(parts), False
