"""The server's HTTP protocol writes a response of known length in one send, and keeps
uvicorn's order everywhere else (streams, 100 Continue, HEAD, closing connections)."""

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from service.http_protocol import HeadWithBodyProtocol

pytestmark = pytest.mark.anyio

ANSWER = b'{"answer": 42}'


class RecordingTransport(asyncio.Transport):
    """What the protocol writes, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


release_stream = asyncio.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/stream":  # a head now, the body when an event comes
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release_stream.wait()
        await send({"type": "http.response.body", "body": b"event"})
        return
    message = await receive()  # a body, if the request has one
    body = ANSWER + message.get("body", b"")
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _connection() -> tuple[HeadWithBodyProtocol, RecordingTransport]:
    config = uvicorn.Config(app, http=HeadWithBodyProtocol, log_config=None)
    config.load()
    protocol = HeadWithBodyProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the protocol did not get there")


async def test_a_response_of_known_length_is_one_write_of_head_and_body() -> None:
    protocol, transport = _connection()
    protocol.data_received(b"GET /answer HTTP/1.1\r\nhost: test\r\n\r\n")
    await _until(lambda: transport.writes)
    await asyncio.sleep(0.01)  # nothing more comes

    [written] = transport.writes
    assert written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert written.endswith(b"\r\n\r\n" + ANSWER)
    assert not transport.closed  # keep-alive


async def test_keep_alive_requests_each_get_one_write() -> None:
    protocol, transport = _connection()
    for _ in range(3):
        protocol.data_received(b"GET /answer HTTP/1.1\r\nhost: test\r\n\r\n")
        count = len(transport.writes)
        await _until(lambda count=count: len(transport.writes) > count)
    assert len(transport.writes) == 3
    assert all(written.endswith(ANSWER) for written in transport.writes)


async def test_a_head_request_gets_its_head_though_no_body_is_written() -> None:
    protocol, transport = _connection()
    protocol.data_received(b"HEAD /answer HTTP/1.1\r\nhost: test\r\n\r\n")
    await _until(lambda: transport.writes)

    [written] = transport.writes
    assert written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert written.endswith(b"\r\n\r\n")  # the head alone


async def test_a_closing_connection_gets_head_and_body_before_it_closes() -> None:
    protocol, transport = _connection()
    protocol.data_received(b"GET /answer HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
    await _until(lambda: transport.closed)

    [written] = transport.writes
    assert written.endswith(ANSWER)


async def test_a_stream_gets_its_head_before_its_first_event() -> None:
    release_stream.clear()
    protocol, transport = _connection()
    protocol.data_received(b"GET /stream HTTP/1.1\r\nhost: test\r\n\r\n")
    await _until(lambda: transport.writes)  # while the app still waits for the event

    assert b"transfer-encoding: chunked" in transport.writes[0]
    release_stream.set()
    await _until(lambda: len(transport.writes) > 1)
    assert b"event" in transport.writes[1]


async def test_100_continue_goes_at_once_and_the_answer_after_the_body() -> None:
    protocol, transport = _connection()
    protocol.data_received(
        b"POST /answer HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n"
    )
    await _until(lambda: transport.writes)  # the client waits for it before sending the body
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]

    protocol.data_received(b"hello")
    await _until(lambda: len(transport.writes) > 1)
    assert transport.writes[1].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[1].endswith(ANSWER + b"hello")
