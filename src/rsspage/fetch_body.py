"""Reading a response's body for the fetch stage: at most a size, whatever its encoding.

A Content-Encoding is undone here, chunk by chunk, never producing more than the limit: a gzip
bomb cannot take the memory (httpx's own decoder would expand a whole network chunk at once, up
to ~1000x its size). An error response's body is read briefly, for fetch_failures to say whose
page it is.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import zlib
from typing import Any

import httpx

from rsspage.fetch_failures import Failure, too_large

__all__ = ["ACCEPT_ENCODING", "Decoder", "error_body", "read_capped"]

# brotli is optional: advertise it only when we can decode it.
_BROTLI: Any = (
    importlib.import_module("brotli") if importlib.util.find_spec("brotli") is not None else None
)
ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI is not None else "gzip, deflate"
#: How much of an error response is read, for fetch_failures to recognise whose page it is
#: (RSSHub's error message sits ~4 KB into its page), and for how long at most.
_ERROR_BODY_BYTES = 64 * 1024
_ERROR_BODY_SECONDS = 2.0


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, refused as soon as it (or its declared length) exceeds ``limit``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit, response.status_code)
    decoder = Decoder(response.headers.get("content-encoding", ""), limit, response.status_code)
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += decoder.feed(chunk)
    body += decoder.finish()
    return bytes(body)


async def error_body(response: httpx.Response) -> bytes:
    """The start of an error response's body, or what of it came quickly. Never fails: the
    status alone still says something, so a slow or broken error page must not hide it."""
    body = bytearray()
    try:
        async with asyncio.timeout(_ERROR_BODY_SECONDS):
            decoder = Decoder(response.headers.get("content-encoding", ""), _ERROR_BODY_BYTES,
                               response.status_code)
            async for chunk in response.aiter_raw():
                body += decoder.feed(chunk)
    except (TimeoutError, httpx.HTTPError, Failure):  # too slow, cut off, too large, undecodable
        pass
    return bytes(body)


class Decoder:
    """Undoes a Content-Encoding chunk by chunk, never producing more than ``limit`` bytes.

    Inflating with ``max_length`` is what bounds memory for a gzip bomb: httpx's own decoder
    would expand a whole network chunk at once (up to ~1000× its size).
    """

    def __init__(self, encoding: str, limit: int, http_status: int) -> None:
        self._name = encoding.strip().lower() or "identity"
        self._limit = limit
        self._status = http_status
        self._total = 0
        self._zlib: Any = None
        self._brotli: Any = None
        if self._name in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._name == "deflate":
            self._zlib = zlib.decompressobj()
        elif self._name == "br" and _BROTLI is not None:
            self._brotli = _BROTLI.Decompressor()
        elif self._name != "identity":
            raise Failure(f"unsupported Content-Encoding {encoding!r}", http_status=http_status)

    def feed(self, data: bytes) -> bytes:
        if self._zlib is not None:
            return self._count(self._inflate(data))
        if self._brotli is not None:
            return self._count(bytes(self._brotli.process(data)))
        return self._count(data)

    def finish(self) -> bytes:
        if self._zlib is None:
            return b""
        tail = self._count(bytes(self._zlib.flush()))
        if not self._zlib.eof and self._total:
            raise Failure(f"{self._name} body is truncated", retryable=True,
                           http_status=self._status)
        return tail

    def _inflate(self, data: bytes) -> bytes:
        # One byte more than the room left: getting it proves the body too large. Getting less
        # means zlib consumed all the input, so no unconsumed_tail is left behind.
        room = self._limit - self._total + 1
        try:
            return bytes(self._zlib.decompress(data, room))
        except zlib.error as e:
            if self._name == "deflate" and self._total == 0:
                # Some servers send raw deflate without the zlib wrapper the RFC asks for.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._name = "raw deflate"
                return self._inflate(data)
            raise Failure(f"cannot decode {self._name} body: {e}",
                           http_status=self._status) from e

    def _count(self, out: bytes) -> bytes:
        self._total += len(out)
        if self._total > self._limit:
            raise too_large(self._limit, self._status)
        return out
