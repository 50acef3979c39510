"""The control calls' HTTP/1.1 client against a tiny asyncio server."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.control import ControlClient
from orchestrator.http11 import HTTPClient, HTTPError


async def serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length)
    return head, body


def test_keepalive_chunked_and_stale_connection_retry():
    async def main():
        seen = []

        async def handler(reader, writer):
            head, body = await read_request(reader)
            seen.append((head.split(b"\r\n")[0], body))
            if len(seen) == 1:  # keep-alive with content-length, then close while "idle"
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"a": true}')
                await writer.drain()
                writer.close()
                return
            writer.write(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\n{\"b\":\r\n3\r\n 1}\r\n0\r\n\r\n")
            await writer.drain()
            writer.close()

        server, port = await serve(handler)
        client = HTTPClient(timeout=5)
        assert await client.request("GET", f"http://127.0.0.1:{port}/x", params={"wait": "1"}) == (200, b'{"a": true}')
        # the pooled connection was closed by the server: retried once, fresh
        code, body = await client.request("POST", f"http://127.0.0.1:{port}/y", json_body={"k": [1]})
        assert (code, body) == (202, b'{"b": 1}')
        assert seen[0][0] == b"GET /x?wait=1 HTTP/1.1" and seen[-1] == (b"POST /y HTTP/1.1", b'{"k":[1]}')
        await client.aclose()
        server.close()
    asyncio.run(main())


def test_refused_and_timeout_are_transient_replies():
    async def main():
        async def slow(reader, writer):
            await asyncio.sleep(5)
        server, port = await serve(slow)
        control = ControlClient(timeout=0.2)
        r = await control.status(f"http://127.0.0.1:{port}", "t/1", 0, None)
        assert r.transient and "timed out" in r.error
        server.close()
        await server.wait_closed()
        r = await control.execute(f"http://127.0.0.1:{port}", {"method": "x"}, "key")
        assert r.transient and r.status_code == 0
        with pytest.raises(HTTPError):
            await HTTPClient(timeout=1).request("GET", f"http://127.0.0.1:{port}/")
        await control.aclose()
    asyncio.run(main())
