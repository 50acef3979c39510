"""A TCP proxy in a thread that can cut a service off: refuse connections or reset them."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

from tests.support import free_port


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `target_port`; `down()` refuses and drops every connection,
    `up()` accepts again, `reset_all()` resets the open connections (RST), counted in `resets`."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self.target_port = target_port
        self.resets = 0
        self._conns: set[asyncio.Transport] = set()
        self._server: asyncio.AbstractServer | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fault-proxy")
        self.thread.start()
        self.up()

    def _call(self, coro):  # noqa: ANN001, ANN202 - run on the proxy's loop and wait
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            self._rst(writer.transport)  # type: ignore[arg-type]
            return
        pair = (writer.transport, up_writer.transport)
        self._conns.update(pair)  # type: ignore[arg-type]
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._conns.difference_update(pair)  # type: ignore[arg-type]

    @staticmethod
    def _rst(transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()

    async def _reset_all(self) -> int:
        conns = list(self._conns)
        for t in conns:
            self._rst(t)
        self._conns.clear()
        return len(conns)

    async def _up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._reset_all()

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        self._call(self._down())

    def reset_all(self) -> int:
        n = self._call(self._reset_all())
        self.resets += n
        return n

    def close(self) -> None:
        self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
