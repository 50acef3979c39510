"""The HTTP/1.1 client's pool: stale keep-alive connections never fail a request."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.http11 import HTTPClient, HTTPError

OK = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return head


class KeepAliveServer:
    """Keep-alive server; `close_idle()` closes every connection waiting for its next request
    (what uvicorn does after its keep-alive timeout); `mute` connections close on the next request
    without answering (the server closed them just as the request went out)."""

    def __init__(self) -> None:
        self.conns = 0
        self.requests = 0
        self.idle: set[asyncio.StreamWriter] = set()
        self.mute_next_reused = 0

    async def handler(self, reader, writer):
        self.conns += 1
        served = 0
        try:
            while True:
                self.idle.add(writer)
                try:
                    await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                finally:
                    self.idle.discard(writer)
                if served and self.mute_next_reused:
                    self.mute_next_reused -= 1
                    return  # closed without a byte of answer
                served += 1
                self.requests += 1
                writer.write(OK)
                await writer.drain()
        finally:
            writer.close()

    def close_idle(self) -> None:
        for w in list(self.idle):
            w.close()


async def start(srv: KeepAliveServer):
    server = await asyncio.start_server(srv.handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"


def test_burst_then_server_closes_idle_connections():
    async def main():
        srv = KeepAliveServer()
        server, url = await start(srv)
        client = HTTPClient(timeout=5)
        # a burst: 50 connections at once, all pooled afterwards
        assert all(r == (200, b"{}") for r in await asyncio.gather(*(client.request("POST", url, json_body={})
                                                                   for _ in range(50))))
        assert client.idle_count() == 50 and srv.conns == 50
        srv.close_idle()  # the server's keep-alive timeout
        await asyncio.sleep(0.05)
        # every pooled connection is dead; the request still succeeds, on a fresh connection
        assert await client.request("POST", url, json_body={"a": 1}) == (200, b"{}")
        assert srv.conns == 51 and client.idle_count() == 1
        await client.aclose()
        server.close()
    asyncio.run(main())


def test_reused_connection_closed_as_the_request_goes_out_is_retried_fresh():
    async def main():
        srv = KeepAliveServer()
        server, url = await start(srv)
        client = HTTPClient(timeout=5)
        await asyncio.gather(*(client.request("GET", url) for _ in range(10)))
        assert client.idle_count() == 10
        srv.mute_next_reused = 100  # every reused connection closes without answering
        assert await client.request("POST", url, json_body={}) == (200, b"{}")
        # one reused connection failed, so every idle one to that host was dropped; one fresh one made
        assert srv.conns == 11 and client.idle_count() == 1
        await client.aclose()
        server.close()
    asyncio.run(main())


def test_failure_on_a_fresh_connection_is_an_error():
    async def main():
        async def hangup(reader, writer):
            await read_request(reader)
            writer.close()
        server = await asyncio.start_server(hangup, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
        with pytest.raises(HTTPError, match="IncompleteReadError"):
            await HTTPClient(timeout=5).request("POST", url, json_body={})
        server.close()
    asyncio.run(main())


def test_connections_idle_too_long_are_not_reused():
    async def main():
        srv = KeepAliveServer()
        server, url = await start(srv)
        client = HTTPClient(timeout=5, idle_timeout=0.2)
        await asyncio.gather(*(client.request("GET", url) for _ in range(3)))
        assert client.idle_count() == 3
        await client.request("GET", url)  # young enough: reused
        assert srv.conns == 3
        await asyncio.sleep(0.3)
        await client.request("GET", url)  # all too old: closed, a fresh one made
        assert srv.conns == 4 and client.idle_count() == 1
        await client.aclose()
        server.close()
    asyncio.run(main())
