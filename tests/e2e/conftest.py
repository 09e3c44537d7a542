"""Real server processes: `practica serve` on a free port, stopped after the test."""

import contextlib
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

# The browser fixtures and the screenshot summary, for every e2e test that opens a page.
from tests.e2e.browser import browser, browser_page, pytest_terminal_summary  # noqa: F401

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


@contextlib.contextmanager
def serving(home: Path, log_path: Path) -> Iterator[Server]:
    """`practica serve` on `home`, ready, until the block ends; its output goes to `log_path`."""
    port = free_port()
    env = {
        **os.environ,
        "PRACTICA_HOME": str(home),
        "PRACTICA_ADMIN_TOKEN": ADMIN_TOKEN,
        "PRACTICA_ALIAS_POLL_S": "0.3",
    }
    log = log_path.open("wb")
    process = subprocess.Popen(
        [*practica_command(), "serve", "--port", str(port)],
        env=env,
        cwd=log_path.parent,  # not the checkout: a developer's .env there is not read
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield Server(url=url, home=home, env=env, process=process)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def server(home_copy: Path, tmp_path: Path) -> Iterator[Server]:
    with serving(home_copy, tmp_path / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def read_only_server(
    trained_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per test module on the shared trained home, for tests that change nothing.

    Starting a server loads every model (seconds); pages and docs need only one.
    """
    with serving(trained_home, tmp_path_factory.mktemp("server") / "server.log") as running:
        yield running
