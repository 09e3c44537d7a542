"""Real server processes: `practica serve` on a free port, stopped after the test."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ADMIN_TOKEN = "e2e-admin-token"


@dataclass
class Server:
    url: str
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def practica_command() -> list[str]:
    return [str(Path(sys.executable).with_name("practica"))]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


@pytest.fixture
def server(home_copy: Path, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "PRACTICA_HOME": str(home_copy),
        "PRACTICA_ADMIN_TOKEN": ADMIN_TOKEN,
        "PRACTICA_ALIAS_POLL_S": "0.3",
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [*practica_command(), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield Server(url=url, home=home_copy, env=env, process=process)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
