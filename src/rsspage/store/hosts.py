"""Per-host politeness shared by fetch workers on any number of machines (PostgreSQL).

``fetch.per_host`` requests to one host at a time holds across workers: a request takes one of
the host's ``per_host`` slots, each a PostgreSQL advisory lock (the host's CRC-32, the slot's
number), and holds it until its response is read. The locks belong to a connection of the
worker's pool: a worker killed mid-request loses its connection, and the server frees its
slots at once (no lease to wait out). A request that finds every slot taken tries again a
little later (:data:`POLL_SECONDS`).

Used through :class:`rsspage.fetch.HostGate`; the fetch stage does not know it is PostgreSQL.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from rsspage.errors import StoreError
from rsspage.redact import redact_url

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

#: How long a request waits before it asks for a busy host's slots again.
POLL_SECONDS = 0.05
_FOREVER = 7 * 24 * 3600.0


class SharedHosts:
    """The hosts' slots of one store, for one fetching loop (``async with``)."""

    def __init__(self, url: str, per_host: int, connections: int) -> None:
        self._url = url
        self._per_host = per_host
        self._connections = max(1, connections)
        self._pool: AsyncConnectionPool[Any] | None = None

    async def __aenter__(self) -> SharedHosts:
        try:
            from psycopg_pool import AsyncConnectionPool
        except ImportError as e:
            raise StoreError("fetch workers need psycopg-pool: pip install "
                             "'rsspage[postgresql]'") from e
        # A request waits for a connection as it would for a slot (no timeout: the fetch's
        # own time limits start once it has one; a feed must not fail for waiting its turn).
        self._pool = AsyncConnectionPool(self._url, min_size=0, max_size=self._connections,
                                         kwargs={"autocommit": True}, reset=_unlock_all,
                                         timeout=_FOREVER, open=False)
        try:
            await self._pool.open(wait=False)
        except Exception as e:  # psycopg's errors; the URL's password stays out
            raise StoreError(f"cannot connect to the store {redact_url(self._url)}: "
                             f"{type(e).__name__}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of ``host``'s slots (waiting for one to be free)."""
        assert self._pool is not None, "enter SharedHosts first"
        key = zlib.crc32(host.encode()) - (1 << 31)  # a signed 32-bit number
        async with self._pool.connection() as conn:
            number = await self._take(conn, key)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (key, number))

    async def _take(self, conn: Any, key: int) -> int:
        while True:
            for number in range(self._per_host):
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (key, number))
                row = await cursor.fetchone()
                if row and row[0]:
                    return number
            await asyncio.sleep(POLL_SECONDS)


async def _unlock_all(conn: Any) -> None:
    """A connection going back to the pool holds no slot (a request cancelled mid-way)."""
    await conn.execute("SELECT pg_advisory_unlock_all()")
