"""Practica beside the HTTP floor and a naive FastAPI app over the very same models.

Each server runs alone, pinned to core 0, while `loadgen.py` drives it from core 1 with N
keep-alive clients posting each model's example instance; the floor answers a constant.
All in one run, so the ratios compare like with like.

    .venv/bin/python bench/peers.py --home .practica --duration 5

A benchmark, not a test: numbers depend on the machine; compare ratios within one run.
LitServe, the third peer named in issue 10, is not installed here and is not measured.
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from loadgen import drive, prepare
from peer_apps import MODELS

from training.catalog import get_spec

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def start(kind: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {**os.environ, "PRACTICA_HOME": str(home), "PRACTICA_LOG_LEVEL": "WARNING"}
    if kind == "practica":
        command = [str(VENV_BIN / "practica"), "serve", "--port", port]
        ready = "/readyz"
    else:
        command = [str(VENV_BIN / "uvicorn"), f"peer_apps:{kind}_app", "--factory",
                   "--app-dir", str(ROOT / "bench"), "--port", port, "--loop", "uvloop",
                   "--http", "httptools", "--no-access-log", "--log-level", "warning"]  # fmt: skip
        ready = "/docs" if kind == "naive" else "/"
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + ready, timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{kind} did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".practica", help="trained registry")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    rows = []
    for kind in ("floor", "naive", "practica"):
        process, url = start(kind, args.home)
        try:
            for model in MODELS:
                example = get_spec(model).example_input.model_dump(mode="json")  # type: ignore[attr-defined]
                body = json.dumps({"instances": [example]}).encode()
                request = prepare("POST", f"{url}/v1/models/{model}/predict", body)
                measured = asyncio.run(drive(url, [request], args.concurrency, args.duration))
                row = {"server": kind, "model": model, **measured}
                print(json.dumps(row), flush=True)
                rows.append(row)
                if kind == "floor":
                    break  # a constant: the same for every model
        finally:
            process.terminate()
            process.wait(timeout=30)
    (ROOT / "bench" / "results" / "peers.json").write_text(json.dumps(rows, indent=2) + "\n")
    floor = rows[0]["throughput_rps"]
    print(f"\nHTTP floor: {floor} req/s")
    print("| model | Practica req/s | p50 ms | naive FastAPI req/s | p50 ms | Practica/naive | "
          "Practica/floor |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for model in MODELS:
        ours = next(r for r in rows if r["server"] == "practica" and r["model"] == model)
        naive = next(r for r in rows if r["server"] == "naive" and r["model"] == model)
        print(f"| {model} | {ours['throughput_rps']} | {ours['p50_ms']} | "
              f"{naive['throughput_rps']} | {naive['p50_ms']} | "
              f"{ours['throughput_rps'] / naive['throughput_rps']:.2f}x | "
              f"{ours['throughput_rps'] / floor:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
