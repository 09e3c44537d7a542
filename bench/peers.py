"""Practica beside the HTTP floor, a naive FastAPI app and LitServe, over the same models.

Every server is pinned to core 0 while `loadgen.py` drives one at a time from core 1
with N keep-alive clients posting each model's example instance; the floor answers the
same requests with a constant. For each model and concurrency the four servers are
measured back to back, over several rounds; a ratio is taken within each round (Practica
against the floor, naive app and LitServe measured beside it) and the tables show the
median round's numbers and the median of those ratios, so a shared machine's drift from
one minute to the next cancels. Practica also answers one client for every classic model
(the 2 ms target).

    .venv/bin/pip install litserve==0.2.19  # a peer, not one of Practica's dependencies
    .venv/bin/python bench/peers.py --home .practica --duration 3 --rounds 5

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
import signal
import socket
import statistics
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
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="medians of this many rounds")
    parser.add_argument("--access-log", action="store_true", help="Practica logs each request")
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    # Every server is started at once (an idle one costs its core nothing), and each
    # measurement takes the servers in turn, so that a shared machine's drift from one
    # minute to the next weighs on all of them alike.
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for kind in SERVERS:
            servers[kind] = start(kind, args.home.resolve(), args.access_log)  # cwd is bench/
        # The floor is measured beside every model, on the model's own requests: it is
        # the yardstick of the minute the model is measured in.
        cases = [(kind, model, concurrency, False)
                 for model in PEER_MODELS
                 for concurrency in CONCURRENCY
                 for kind in SERVERS]  # fmt: skip
        cases += [("practica", model, 1, True) for model in CLASSIC]
        rounds: dict[tuple[str, str, int, bool], list[dict[str, Any]]] = {}
        for number in range(args.rounds):
            for kind, model, concurrency, alone in cases:
                only(kind, servers)
                url = servers[kind][1]
                measured = measure(url, model, concurrency, args.duration)
                rounds.setdefault((kind, model, concurrency, alone), []).append(measured)
                print(json.dumps({"round": number + 1, "server": kind, "model": model,
                                  "concurrency": concurrency, **measured}), flush=True)  # fmt: skip
    finally:
        for process, _ in servers.values():
            os.killpg(process.pid, signal.SIGCONT)
            stop(process)
    rows = [median_row(*case, measured) for case, measured in rounds.items()]
    add_ratios(rows)
    (ROOT / "bench" / "results" / "peers.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, ROOT / "docs" / "img" / "peers.png")
    write_tables(rows, ROOT / "docs" / "benchmarks.md")


def only(kind: str, servers: dict[str, tuple[subprocess.Popen[bytes], str]]) -> None:
    """Pause every server but `kind`: an idle one is not always idle (LitServe's processes
    poll their queues, Practica re-reads its aliases), and its core is the measured one's."""
    for other, (process, _) in servers.items():
        os.killpg(process.pid, signal.SIGSTOP if other != kind else signal.SIGCONT)
    time.sleep(0.1)


def median_row(
    server: str, model: str, concurrency: int, alone: bool, measured: list[dict[str, Any]]
) -> dict[str, Any]:
    """The median round of each number; the rounds themselves are kept beside them."""
    row: dict[str, Any] = {"server": server, "model": model, "concurrency": concurrency}
    if alone:
        row["alone"] = True
    for key in ("throughput_rps", "p50_ms", "p99_ms"):
        row[key] = statistics.median(m[key] for m in measured)
    row["errors"] = sum(m["errors"] for m in measured)
    row["rounds"] = measured
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Practica's throughput over each peer's, taken round by round (the two were measured
    within seconds of each other) and then the median over rounds."""
    for row in rows:
        if row["server"] != "practica" or row.get("alone"):
            continue
        for peer in ("floor", "naive", "litserve"):
            theirs = find(rows, peer, row["model"], row["concurrency"])["rounds"]
            row[f"over_{peer}"] = round(statistics.median(
                ours["throughput_rps"] / other["throughput_rps"]
                for ours, other in zip(row["rounds"], theirs, strict=True)
            ), 3)  # fmt: skip


def find(rows: list[dict[str, Any]], server: str, model: str, concurrency: int) -> dict[str, Any]:
    return next(
        r for r in rows
        if (r["server"], r["model"], r["concurrency"]) == (server, model, concurrency)
        and not r.get("alone")
    )  # fmt: skip


def tables(rows: list[dict[str, Any]]) -> str:
    lines = []
    for concurrency in CONCURRENCY:
        lines += [f"\n**{concurrency} client{'s' if concurrency > 1 else ''}**\n",
                  "| model | Practica req/s | p50 / p99 ms | naive FastAPI req/s | LitServe "
                  "req/s | HTTP floor req/s | Practica / naive | Practica / LitServe | "
                  "Practica / floor |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for model in PEER_MODELS:
            ours = find(rows, "practica", model, concurrency)
            naive, lit, floor = (find(rows, peer, model, concurrency)["throughput_rps"]
                                 for peer in ("naive", "litserve", "floor"))  # fmt: skip
            lines.append(
                f"| {model} | {ours['throughput_rps']:,.0f} | {ours['p50_ms']} / "
                f"{ours['p99_ms']} | {naive:,.0f} | {lit:,.0f} | {floor:,.0f} | "
                f"{ours['over_naive']:.2f}x | {ours['over_litserve']:.2f}x | "
                f"{ours['over_floor']:.2f}x |"
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
        floors = [find(rows, "floor", m, concurrency)["throughput_rps"] for m in PEER_MODELS]
        axis.hlines(floors, [i - 1.5 * width for i in range(len(PEER_MODELS))],
                    [i + 1.5 * width for i in range(len(PEER_MODELS))], color="grey",
                    linestyle="--", label="HTTP floor beside it")  # fmt: skip
        axis.set_xticks(range(len(PEER_MODELS)), PEER_MODELS, rotation=25, ha="right")
        axis.set_title(f"{concurrency} client{'s' if concurrency > 1 else ''}")
    axes[0].set_ylabel("requests per second (one core)")
    axes[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
