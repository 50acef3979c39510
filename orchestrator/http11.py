"""A small asyncio HTTP/1.1 client for the control calls (JSON in, JSON out).

(Named `http11`, not `http`: run from orchestrator/, a module `http` would shadow the standard library.)

Why not httpx here: a worker keeps hundreds of long-polls open at once, and
httpcore's pool rescans every connection on every request (quadratic) and
re-tries a failed optional import per call; profiled, that was ~20 ms of CPU
per node. This client keeps idle keep-alive connections per host in a list,
so a request costs O(1) bookkeeping.

It speaks just what the control interface needs: a request with an optional
JSON body; a response with Content-Length, chunked encoding, or read to EOF.
A pooled connection that the server closed while idle is retried once on a
fresh connection (every control call is idempotent by task id).
"""

from __future__ import annotations

import asyncio
import json
import ssl as ssl_module
from typing import Any
from urllib.parse import urlencode, urlsplit

_MAX_HEADER = 64 * 1024


class HTTPError(Exception):
    """Transport failure: refused, reset, timed out, malformed answer."""


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket
            pass


class HTTPClient:
    def __init__(self, timeout: float = 10.0, max_idle_per_host: int = 256) -> None:
        self.timeout = timeout
        self.max_idle = max_idle_per_host
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._ssl: ssl_module.SSLContext | None = None

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()

    async def _connect(self, key: tuple[str, str, int]) -> _Conn:
        scheme, host, port = key
        ssl = None
        if scheme == "https":
            ssl = self._ssl = self._ssl or ssl_module.create_default_context()
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl, limit=_MAX_HEADER)
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
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json",
                "Connection: keep-alive", f"Content-Length: {len(body)}"]
        if json_body is not None:
            head.append("Content-Type: application/json")
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            async with asyncio.timeout(timeout if timeout is not None else self.timeout):
                for attempt in (0, 1):
                    pooled = self._idle.get(key)
                    conn = pooled.pop() if pooled else None
                    reused = conn is not None
                    if conn is None:
                        conn = await self._connect(key)
                    try:
                        conn.writer.write(raw)
                        await conn.writer.drain()
                        status, data, keep = await self._read(conn.reader, method)
                    except (ConnectionError, asyncio.IncompleteReadError, HTTPError):
                        conn.close()
                        if reused and attempt == 0:
                            continue  # the server closed it while idle: once more, fresh
                        raise
                    except BaseException:
                        conn.close()
                        raise
                    if keep and len(self._idle.setdefault(key, [])) < self.max_idle:
                        self._idle[key].append(conn)
                    else:
                        conn.close()
                    return status, data
        except TimeoutError as exc:
            raise HTTPError(f"timed out after {timeout or self.timeout:g} s: {method} {url}") from exc
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise HTTPError(f"{type(exc).__name__}: {exc} ({method} {url})") from exc
        raise HTTPError(f"no answer from {url}")  # pragma: no cover

    @staticmethod
    async def _read(reader: asyncio.StreamReader, method: str) -> tuple[int, bytes, bool]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HTTPError("response headers too large") from exc
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
            raise HTTPError(f"not an HTTP response: {lines[0][:80]!r}")
        status = int(status_line[1])
        hdrs: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
        keep = hdrs.get("connection", "").lower() != "close" and status_line[0] != "HTTP/1.0"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, b"", keep
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            return status, b"".join(chunks), keep
        if "content-length" in hdrs:
            return status, await reader.readexactly(int(hdrs["content-length"])), keep
        return status, await reader.read(), False
