"""`practica container serve` as a real process: SageMaker's environment and /opt/ml tree."""

import contextlib
import gzip
import io
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from tests.e2e.conftest import free_port, practica_command

TARGET = "X-Amzn-SageMaker-Target-Model"
IRIS = {
    "sepal_length_cm": 5.1,
    "sepal_width_cm": 3.5,
    "petal_length_cm": 1.4,
    "petal_width_cm": 0.2,
}


def opt_ml(root: Path, bundle: Path, *, unpack: bool = True) -> Path:
    """An /opt/ml-style base folder whose model/ holds the bundle, unpacked as SageMaker does."""
    base_dir = root / "opt-ml"
    (base_dir / "model").mkdir(parents=True)
    if unpack:
        unpacked(bundle, base_dir)
    else:
        (base_dir / "model" / "model.tar.gz").write_bytes(bundle.read_bytes())
    return base_dir


@dataclass
class Container:
    url: str
    process: subprocess.Popen[bytes]
    tmpdir: Path
    log: Path
    statuses_while_starting: list[int] = field(default_factory=list)

    def invoke(
        self, body: bytes | str | Iterator[bytes], content_type: str, **headers: str
    ) -> httpx.Response:
        return httpx.post(
            f"{self.url}/invocations",
            content=body,
            headers={"content-type": content_type, **headers},
            timeout=30,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(base_dir: Path, workdir: Path, **settings: str) -> Container:
    """`practica container serve` with only the SAGEMAKER_*/PRACTICA_* variables given."""
    port = free_port()
    tmpdir = workdir / "tmp"  # where the container's temporary registry goes
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "PRACTICA_"))}
    env |= {
        "SAGEMAKER_BASE_DIR": str(base_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "TMPDIR": str(tmpdir),
        "PRACTICA_LOG_JSON": "false",
        **settings,
    }
    log = workdir / "container.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*practica_command(), "container", "serve"],
            env=env,
            cwd=workdir,  # nothing is read from the checkout
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Container(f"http://127.0.0.1:{port}", process, tmpdir, log)


def wait_for_ping(container: Container, timeout_s: float = 120) -> None:
    """Poll /ping until 200, recording what it answered before."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if container.process.poll() is not None:
            raise RuntimeError(f"the container exited early:\n{container.output()}")
        try:
            status = httpx.get(f"{container.url}/ping", timeout=2).status_code
        except httpx.TransportError:
            status = 0  # not listening yet
        container.statuses_while_starting.append(status)
        if status == 200:
            return
        time.sleep(0.02)
    raise TimeoutError(f"/ping never answered 200:\n{container.output()}")


@contextlib.contextmanager
def serving(base_dir: Path, workdir: Path, **settings: str) -> Iterator[Container]:
    container = start(base_dir, workdir, **settings)
    try:
        wait_for_ping(container)
        yield container
    finally:
        if container.process.poll() is None:
            container.process.terminate()
            container.process.wait(timeout=30)


def left_in_tmpdir(container: Container) -> list[str]:
    """What the container left in its TMPDIR, but for the `.ses` session file ONNX Runtime
    writes there on its own."""
    return sorted(path.name for path in container.tmpdir.iterdir() if path.name != ".ses")


def image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 40), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


# ----------------------------------------------------------------- health and routes


def unpacked(bundle: Path, base_dir: Path) -> None:
    with tarfile.open(bundle) as tar:
        tar.extractall(base_dir / "model", filter="data")


def with_member(bundle: Path, out: Path, member: tarfile.TarInfo, data: bytes = b"") -> None:
    """`out`: the real bundle plus one more member (a hostile one, in the tests)."""
    with tarfile.open(bundle) as source, tarfile.open(out, "w:gz") as tar:
        for existing in source:
            tar.addfile(existing, source.extractfile(existing))
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if data else None)


def size_bomb(out: Path) -> None:
    """A gzip tarball whose one blob claims 16 GiB: its header alone must refuse it."""
    claim = tarfile.TarInfo("blobs/" + "0" * 64)
    claim.size = 16 * 2**30
    with gzip.open(out, "wb") as tarball:
        tarball.write(claim.tobuf(format=tarfile.PAX_FORMAT))
        tarball.write(bytes(2**20))  # the first mebibyte of what it claims


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    """A tar member of another type than a regular file: a link, a device, a fifo."""
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    return member
