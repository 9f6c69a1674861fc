"""A TCP proxy between the bot and PostgreSQL that a test can cut, to play a database outage. Each outage
lasts as long as its `async with` block, also when the test fails inside it (so the bot can stop).

- `partition()`: a silent partition. Connections stay open, nothing is forwarded either way, nothing is
  closed; a new connection is accepted and then hears nothing. What was sent meanwhile is held and delivered
  when the block ends, as TCP does when a partition heals. It begins at a moment when no question to the
  server is unanswered, so what meets the silence was asked after the cut.
- `refusal()`: the database is down. Open connections are cut and new ones refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy.engine import URL, make_url

CHUNK = 65536
QUIET_WITHIN = 10.0
"""Seconds to wait for a moment without an unanswered question before a partition begins."""


class DatabaseProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self._upstream = (upstream_host, upstream_port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._asking: set[asyncio.Task[None]] = set()
        """Links whose client sent something the server has not answered yet."""
        self.port = 0

    async def __aenter__(self) -> DatabaseProxy:
        await self._listen()
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._flowing.set()
        await self._stop_listening()

    def url_for(self, url: str | URL) -> str:
        """`url` (of a database on the upstream server) going through the proxy instead."""
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @contextlib.asynccontextmanager
    async def partition(self) -> AsyncIterator[None]:
        async with asyncio.timeout(QUIET_WITHIN):
            while self._asking:
                await asyncio.sleep(0.01)
        self._flowing.clear()
        try:
            yield
        finally:
            self._flowing.set()

    @contextlib.asynccontextmanager
    async def refusal(self) -> AsyncIterator[None]:
        await self._stop_listening()
        try:
            yield
        finally:
            await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _link(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        server_writer: asyncio.StreamWriter | None = None
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._upstream)
            await asyncio.gather(
                self._pump(client_reader, server_writer, lambda: self._asking.add(task)),
                self._pump(server_reader, client_writer, lambda: self._asking.discard(task)),
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(task)
            self._asking.discard(task)
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, forwarded: Callable[[], None]):
        """Forward one direction; a chunk read while the link is cut waits until it is restored."""
        while True:
            data = await reader.read(CHUNK)
            await self._flowing.wait()
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            forwarded()
            await writer.drain()
