"""Does unloading a model from a multi-model endpoint give its memory back?

Starts `practica container serve` with SAGEMAKER_MULTI_MODEL=true, then loads, invokes
and unloads the chosen models several times over, reading the server's resident memory
(VmRSS) after each step. A leak shows as a floor that rises from cycle to cycle.

    python bench/multi_model_memory.py --home ~/.practica --models cat-dog news-topic

Without --home, smoke versions of the models are trained into a temporary registry first.
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

from model_registry import ModelRegistry, RegistrySettings, export_bundle

SAMPLES = {
    "news-topic": {"headline": "Stocks rally as the central bank holds rates"},
    "iris-pca": {
        "sepal_length_cm": 5.1,
        "sepal_width_cm": 3.5,
        "petal_length_cm": 1.4,
        "petal_width_cm": 0.2,
    },
}


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


def trained_home(models: list[str], folder: Path) -> Path:
    from training import get_spec
    from training.runner import train_and_publish

    home = folder / "home"
    with ModelRegistry.from_settings(RegistrySettings(home=home)) as registry:
        for name in models:
            print(f"training {name} (smoke profile) ...", flush=True)
            train_and_publish(get_spec(name), registry, profile="smoke")
    return home


def lay_out(home: Path, models: list[str], base_dir: Path) -> dict[str, str]:
    """Each model exported and unpacked where SageMaker would put it; the load urls."""
    urls = {}
    with ModelRegistry.from_settings(RegistrySettings(home=home)) as registry:
        for name in models:
            tarball = base_dir / f"{name}.tar.gz"
            export_bundle(registry, tarball, [name])
            folder = base_dir / "models" / name / "model"
            with tarfile.open(tarball) as tar:
                tar.extractall(folder, filter="data")
            urls[name] = str(folder)
    return urls


def sample_body(name: str) -> tuple[bytes, str]:
    if name in SAMPLES:
        return json.dumps(SAMPLES[name]).encode(), "application/json"
    photo = Path("data/oxford_pets").glob("*/*.jpg")
    return next(photo).read_bytes(), "image/jpeg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="registry holding the models")
    parser.add_argument("--models", nargs="+", default=["cat-dog", "news-topic"])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        home = args.home or trained_home(args.models, folder)
        base_dir = folder / "opt-ml"
        urls = lay_out(home, args.models, base_dir)
        env = os.environ | {
            "SAGEMAKER_BASE_DIR": str(base_dir),
            "SAGEMAKER_MULTI_MODEL": "true",
            "SAGEMAKER_BIND_TO_PORT": str(args.port),
            "PRACTICA_LOG_LEVEL": "WARNING",
        }
        practica = Path(sys.executable).with_name("practica")
        server = subprocess.Popen([str(practica), "container", "serve"], env=env)
        url = f"http://127.0.0.1:{args.port}"
        try:
            while True:
                try:
                    if httpx.get(f"{url}/ping").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            rows = [("started", "", resident_mib(server.pid))]
            for cycle in range(1, args.cycles + 1):
                for name in args.models:
                    loaded = httpx.post(
                        f"{url}/models", json={"model_name": name, "url": urls[name]}, timeout=300
                    )
                    loaded.raise_for_status()
                    body, media_type = sample_body(name)
                    for _ in range(20):
                        httpx.post(
                            f"{url}/models/{name}/invoke",
                            content=body,
                            headers={"content-type": media_type},
                            timeout=60,
                        ).raise_for_status()
                    charged = loaded.json()["memoryBytes"] / 2**20
                    rows.append(
                        (
                            f"cycle {cycle}: {name} loaded",
                            f"{charged:.0f}",
                            resident_mib(server.pid),
                        )
                    )
                for name in args.models:
                    httpx.delete(f"{url}/models/{name}").raise_for_status()
                rows.append((f"cycle {cycle}: all unloaded", "", resident_mib(server.pid)))
        finally:
            server.terminate()
            server.wait(30)
    print(f"\n{'step':<36} {'charged MiB':>12} {'RSS MiB':>9}")
    for step, charged, rss in rows:
        print(f"{step:<36} {charged:>12} {rss:>9.0f}")


if __name__ == "__main__":
    main()
