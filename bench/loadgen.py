"""A closed-loop HTTP/1.1 load generator light enough not to be what is measured.

Each of N clients holds one keep-alive connection and sends its next request when the
last answer has been read. Requests are prepared as raw bytes up front, and answers are
read by `Content-Length`, so a request costs the generator tens of microseconds: a
general-purpose async client (httpx) spends about a millisecond per request and, driving
64 connections from one core, measured itself rather than the server.

Only what the benchmarks need: no TLS, no chunked answers, no redirects.
"""

import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Prepared:
    """One request as the bytes that go on the wire."""

    raw: bytes


def prepare(
    method: str, url: str, body: bytes = b"", content_type: str = "application/json"
) -> Prepared:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: keep-alive"]
    if body or method in ("POST", "PUT"):
        head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return Prepared(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def multipart(field: str, filename: str, content: bytes, media_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its content type."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"'
            f"\r\nContent-Type: {media_type}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Prepared
) -> int:
    """Send one request and read its whole answer; the status code."""
    writer.write(request.raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def drive(
    url: str, requests: Sequence[Prepared], concurrency: int, duration_s: float
) -> dict[str, Any]:
    """Throughput and latency of `concurrency` clients cycling through `requests`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**12))

    async def client(deadline: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                request = requests[next(counter) % len(requests)]
                started = time.perf_counter()
                if await _exchange(reader, writer, request) != 200:
                    errors += 1
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    await client(time.perf_counter() + min(1.0, duration_s / 5))  # warm up, then forget
    latencies.clear()
    errors = 0
    started = time.perf_counter()
    deadline = started + duration_s
    await asyncio.gather(*(client(deadline) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }
