"""The HTTP protocol every Practica server runs: uvicorn's httptools protocol, with each
response's head written together with its body.

uvicorn writes a response's status line and headers the moment the app starts the
response, and its body as a second write: two sends on the socket, and two wake-ups of
the client, for an answer whose body follows microseconds later. With its length known
(a `content-length` header), the head is held back and sent with the body's first bytes,
one send per response. Measured on one core with 8 clients (`bench/peers.py`'s harness),
iris-pca went from 18,500 to 20,400 requests/s and airbnb-price from 10,500 to 11,300.

A response whose length is not known (chunked, a stream) keeps uvicorn's way: its head
goes at once, so a client waiting on a stream sees the headers before the first event.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class HeadWithBodyProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose request cycles write through `HeadWithBody`."""

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()  # creates the request's cycle (not for an upgrade)
        cycle = self.cycle
        if cycle is not None and cycle is not previous:
            # Still in the callback that created it: its task has not run yet.
            writer = HeadWithBody(self.transport, cycle)
            cycle.transport = writer  # type: ignore[assignment]
            cycle.on_response = writer.flushing_before(cycle.on_response)


class HeadWithBody:
    """One response's way to the socket: the head of a response of known length is held
    until the body's first write (or the end of the response, or a close) and goes with it.

    Only the methods uvicorn's request cycle calls on its transport.
    """

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._head_written = False

    def write(self, data: bytes) -> None:
        cycle = self._cycle
        # The cycle writes the head right after it marks the response started and reads its
        # length; a "100 Continue" before that goes at once (the client waits for it).
        if cycle.response_started and not self._head_written:
            self._head_written = True
            if cycle.chunked_encoding is False:  # a content-length: the body comes next
                self._head = data
                return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def flush(self) -> None:
        """Write a held head: the response ended without a body (HEAD, an empty one)."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def flushing_before(self, on_response: Callable[[], None]) -> Callable[[], None]:
        def flush_then_complete() -> None:
            self.flush()
            on_response()

        return flush_then_complete

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)
