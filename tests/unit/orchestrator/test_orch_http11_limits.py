"""The control client's egress check at connect time and its response limit, against a loopback server."""

from __future__ import annotations

import asyncio

from orchestrator.control import ControlClient
from taskservice.netpolicy import HostPolicy


async def _serve(answer: bytes, seen: list[bytes]):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_refused_after_resolution_sends_nothing():
    async def main() -> None:
        seen: list[bytes] = []
        server, port = await _serve(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}', seen)
        client = ControlClient(2.0, policy=HostPolicy.parse("10.0.0.0/8"))
        try:
            reply = await client.execute(f"http://localhost:{port}", {"method": "M"}, "secret")
            assert reply.refused and not reply.transient and not reply.ok
            assert "ORCHESTRATOR_ALLOWED_SERVICES" in reply.error and f"localhost:{port}" in reply.error
            assert seen == []
            allowed = ControlClient(2.0, policy=HostPolicy.parse(None))
            ok = await allowed.status(f"http://127.0.0.1:{port}", "t1", 0, "secret")
            assert ok.invalid and "no status word" in ok.error  # reached it; `{}` is not a status
            assert len(seen) == 1 and b"Authorization: Bearer secret" in seen[0]
            await allowed.aclose()
        finally:
            await client.aclose()
            server.close()
    asyncio.run(main())


def test_response_limit_and_invalid_json():
    async def main() -> None:
        for answer, words in (
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000, "ORCHESTRATOR_MAX_RESPONSE_BYTES"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"800\r\n" + b"y" * 2048 + b"\r\n" * 2
             + b"0\r\n\r\n", "ORCHESTRATOR_MAX_RESPONSE_BYTES"),
            (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * 5000, "ORCHESTRATOR_MAX_RESPONSE_BYTES"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", "not a JSON object"),
            (b"HTTP/1.1 201 OK\r\nContent-Length: 4\r\n\r\nnull", "not a JSON object"),
        ):
            seen: list[bytes] = []
            server, port = await _serve(answer, seen)
            client = ControlClient(2.0, max_response_bytes=1000)
            try:
                reply = await client.output(f"http://127.0.0.1:{port}", "t1", None)
                assert reply.invalid and not reply.transient and not reply.ok, reply
                assert words in reply.error and f"127.0.0.1:{port}" in reply.error, reply.error
            finally:
                await client.aclose()
                server.close()
    asyncio.run(main())
