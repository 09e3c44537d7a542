"""Practica beside the HTTP floor, a naive FastAPI app and LitServe, over the same models.

Each server runs alone, pinned to core 0, while `loadgen.py` drives it from core 1 with N
keep-alive clients posting each model's example instance; the floor answers a constant.
Every server is measured at each concurrency in one run, so ratios compare like with
like. Practica then answers one client for every classic model (the 2 ms target).

    .venv/bin/python bench/peers.py --home .practica --duration 5

Writes `bench/results/peers.json`, `docs/img/peers.png`, and the tables between the
`peers` markers of `docs/benchmarks.md`. A benchmark, not a test: numbers depend on the
machine. The peers have no access log, so Practica runs with PRACTICA_ACCESS_LOG=false;
`--access-log` measures it with its default, a JSON line per request.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop
from loadgen import drive, prepare

from training.catalog import get_spec

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PEER_MODELS = ("iris-pca", "house-prices", "titanic-survival", "loan-default", "airbnb-price")
CLASSIC = (*PEER_MODELS, "gd-quadratic", "titanic-chi2", "mnist-knn", "spam-svm",
           "mall-segments", "mnist-pca", "review-sentiment")  # fmt: skip
SERVERS = ("floor", "naive", "litserve", "practica")
CONCURRENCY = (1, 8, 64)


def start(kind: str, home: Path, access_log: bool) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {**os.environ, "PRACTICA_HOME": str(home), "PEER_MODELS": ",".join(PEER_MODELS),
           "PRACTICA_ACCESS_LOG": str(access_log).lower()}  # fmt: skip
    if kind == "practica":
        command = [str(VENV_BIN / "practica"), "serve", "--port", port]
        ready = "/readyz"
    elif kind == "litserve":
        command = [sys.executable, str(ROOT / "bench" / "litserve_app.py"), port]
        ready = "/health"
    else:
        command = [str(VENV_BIN / "uvicorn"), f"peer_apps:{kind}_app", "--factory",
                   "--app-dir", str(ROOT / "bench"), "--port", port, "--loop", "uvloop",
                   "--http", "httptools", "--no-access-log", "--log-level", "warning"]  # fmt: skip
        ready = "/docs" if kind == "naive" else "/"
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT / "bench",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + ready, timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(process)
    raise SystemExit(f"{kind} did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)  # LitServe's workers too
    process.wait(timeout=30)


def measure(url: str, model: str, concurrency: int, duration: float) -> dict[str, Any]:
    example = get_spec(model).example_input.model_dump(mode="json")  # type: ignore[attr-defined]
    body = json.dumps({"instances": [example]}).encode()
    request = prepare("POST", f"{url}/v1/models/{model}/predict", body)
    return uvloop.run(drive(url, [request], concurrency, duration))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".practica", help="trained registry")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--access-log", action="store_true", help="Practica logs each request")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=SERVERS,
                        help="measure only these again; the others' rows are kept")  # fmt: skip
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    results = ROOT / "bench" / "results" / "peers.json"
    kept = json.loads(results.read_text()) if results.exists() else []
    rows = [r for r in kept if r["server"] not in args.servers]
    for kind in args.servers:
        process, url = start(kind, args.home, args.access_log)
        try:
            models = ["constant"] if kind == "floor" else PEER_MODELS
            for model in models:
                for concurrency in CONCURRENCY:
                    measured = measure(url, model if model != "constant" else "iris-pca",
                                       concurrency, args.duration)  # fmt: skip
                    row = {"server": kind, "model": model, "concurrency": concurrency,
                           **measured}  # fmt: skip
                    print(json.dumps(row), flush=True)
                    rows.append(row)
            if kind == "practica":
                for model in CLASSIC:
                    row = {"server": kind, "model": model, "concurrency": 1, "alone": True,
                           **measure(url, model, 1, args.duration)}  # fmt: skip
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        finally:
            stop(process)
    results.write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, ROOT / "docs" / "img" / "peers.png")
    write_tables(rows, ROOT / "docs" / "benchmarks.md")


def find(rows: list[dict[str, Any]], server: str, model: str, concurrency: int) -> dict[str, Any]:
    return next(
        r for r in rows
        if (r["server"], r["model"], r["concurrency"]) == (server, model, concurrency)
        and not r.get("alone")
    )  # fmt: skip


def tables(rows: list[dict[str, Any]]) -> str:
    lines = []
    for concurrency in CONCURRENCY:
        floor = find(rows, "floor", "constant", concurrency)["throughput_rps"]
        lines += [f"\n**{concurrency} client{'s' if concurrency > 1 else ''}** (HTTP floor "
                  f"{floor:,.0f} req/s)\n",
                  "| model | Practica req/s | p50 / p99 ms | naive FastAPI req/s | LitServe "
                  "req/s | Practica / naive | Practica / LitServe | Practica / floor |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for model in PEER_MODELS:
            ours = find(rows, "practica", model, concurrency)
            naive = find(rows, "naive", model, concurrency)["throughput_rps"]
            lit = find(rows, "litserve", model, concurrency)["throughput_rps"]
            rps = ours["throughput_rps"]
            lines.append(
                f"| {model} | {rps:,.0f} | {ours['p50_ms']} / {ours['p99_ms']} | {naive:,.0f} | "
                f"{lit:,.0f} | {rps / naive:.2f}x | {rps / lit:.2f}x | {rps / floor:.2f}x |"
            )
    errors = sum(r["errors"] for r in rows)
    lines += ["\n**Practica, one client, every classic model** (one instance per request)\n",
              "| model | p50 ms | p99 ms | req/s |", "|---|---|---|---|"]  # fmt: skip
    for row in (r for r in rows if r.get("alone")):
        lines.append(f"| {row['model']} | {row['p50_ms']} | {row['p99_ms']} | "
                     f"{row['throughput_rps']:,.0f} |")  # fmt: skip
    lines.append(f"\nErrors across every measurement: {errors}.")
    return "\n".join(lines)


def write_tables(rows: list[dict[str, Any]], document: Path) -> None:
    text = document.read_text()
    begin, end = "<!-- peers:begin -->", "<!-- peers:end -->"
    generated = f"{begin}\n{tables(rows)}\n\n![Throughput](img/peers.png)\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    document.write_text(pattern.sub(lambda _: generated, text) if begin in text
                        else text.rstrip() + "\n\n" + generated + "\n")  # fmt: skip
    print(tables(rows))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(CONCURRENCY), figsize=(15, 4.5), sharey=True)
    width = 0.27
    for axis, concurrency in zip(axes, CONCURRENCY, strict=True):
        for offset, server in enumerate(("practica", "naive", "litserve")):
            values = [find(rows, server, m, concurrency)["throughput_rps"] for m in PEER_MODELS]
            positions = [i + (offset - 1) * width for i in range(len(PEER_MODELS))]
            axis.bar(positions, values, width, label=server)
        floor = find(rows, "floor", "constant", concurrency)["throughput_rps"]
        axis.axhline(floor, color="grey", linestyle="--", label="HTTP floor")
        axis.set_xticks(range(len(PEER_MODELS)), PEER_MODELS, rotation=25, ha="right")
        axis.set_title(f"{concurrency} client{'s' if concurrency > 1 else ''}")
    axes[0].set_ylabel("requests per second (one core)")
    axes[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
