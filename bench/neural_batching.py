"""Throughput and latency of the neural models with micro-batching on and off.

Starts `practica serve` over a trained registry (pinned to one core when `taskset` exists),
then drives it from this process (pinned to the other core) with a closed loop of N
concurrent keep-alive clients (`loadgen.py`, raw HTTP/1.1) for each model and concurrency,
once with `PRACTICA_BATCHING=true` and once with `false`. Results go to
`bench/results/neural_batching.json` and are printed as the markdown table recorded in
`docs/benchmarks.md`.

    .venv/bin/python bench/neural_batching.py --home .practica --duration 6 --rounds 3

A benchmark, not a test: numbers depend on the machine; compare ratios within one run.
"""

import argparse
import asyncio
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from loadgen import Prepared, drive, multipart, prepare

ROOT = Path(__file__).resolve().parents[1]


def headlines(limit: int = 500) -> list[str]:
    """Real AG News headlines, of every length: grouping by length is part of what is measured."""
    with (ROOT / "data" / "ag_news" / "test.csv").open(newline="", encoding="utf-8") as handle:
        return [row[1] for _, row in zip(range(limit), csv.reader(handle), strict=False)]


def photos(limit: int = 40) -> list[bytes]:
    folder = ROOT / "data" / "oxford_pets"
    files = sorted(folder.glob("*/*.jpg"))[:: max(1, len(list(folder.glob("*/*.jpg"))) // limit)]
    return [path.read_bytes() for path in files[:limit]]


def requests_for(model: str, url: str) -> list[Prepared]:
    if model == "news-topic":
        path = f"{url}/v1/models/news-topic/predict"
        return [
            prepare("POST", path, json.dumps({"instances": [{"headline": text}]}).encode())
            for text in headlines()
        ]
    if model == "cat-dog":
        bodies = [multipart("file", "photo.jpg", photo, "image/jpeg") for photo in photos()]
        return [prepare("POST", f"{url}/classify/cat-dog", *body) for body in bodies]
    raise SystemExit(f"no request defined for {model}")


def start_server(home: Path, batching: bool) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PRACTICA_HOME": str(home), "PRACTICA_BATCHING": str(batching).lower(),
           "PRACTICA_LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [str(Path(sys.executable).with_name("practica")), "serve", "--port", str(port)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".practica", help="trained registry")
    parser.add_argument("--models", nargs="+", default=["news-topic", "cat-dog"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 64])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="on/off alternations; each cell reports the round of median throughput",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "neural_batching.json"
    )
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})  # the load generator on the other core
    rows = []
    # On and off alternate, round after round: a shared machine's slow minute then
    # lands on both modes instead of deciding their ratio.
    for round_ in range(args.rounds):
        for batching in (True, False):
            process, url = start_server(args.home, batching)
            try:
                for model in args.models:
                    for concurrency in args.concurrency:
                        requests = requests_for(model, url)
                        measured = asyncio.run(drive(url, requests, concurrency, args.duration))
                        row = {"model": model, "batching": batching, "concurrency": concurrency,
                               "round": round_, **measured}  # fmt: skip
                        print(json.dumps(row), flush=True)
                        rows.append(row)
            finally:
                process.terminate()
                process.wait(timeout=30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print_table(medians(rows), args.models, args.concurrency)


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model, concurrency and mode: the round whose throughput is the median."""
    cells: dict[tuple[str, int, bool], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["model"], row["concurrency"], row["batching"]), []).append(row)
    return [
        sorted(cell, key=lambda r: r["throughput_rps"])[len(cell) // 2] for cell in cells.values()
    ]


def print_table(results: list[dict[str, Any]], models: list[str], levels: list[int]) -> None:
    print("\n| model | clients | batching on: req/s | p50 ms | p99 ms "
          "| off: req/s | p50 ms | p99 ms | on/off |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for model in models:
        for concurrency in levels:
            rows = [r for r in results if r["model"] == model and r["concurrency"] == concurrency]
            on = next(r for r in rows if r["batching"])
            off = next(r for r in rows if not r["batching"])
            ratio = on["throughput_rps"] / max(off["throughput_rps"], 1e-9)
            print(f"| {model} | {concurrency} | {on['throughput_rps']} | {on['p50_ms']} | "
                  f"{on['p99_ms']} | {off['throughput_rps']} | {off['p50_ms']} | {off['p99_ms']} | "
                  f"{ratio:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
