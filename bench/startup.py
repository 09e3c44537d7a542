"""Start time and memory of `practica serve` with every catalog model in the registry.

Starts the server on a trained registry (`--home`), times it from the command to the
first `/readyz` that answers ready, then reads the resident memory (VmRSS) of each
process: the one worker, or each of `--workers N` and the supervisor. A few rounds; the
table shows each. Results go to `bench/results/startup.json`.

    .venv/bin/python bench/startup.py --home .practica --workers 1 2

A benchmark, not a test: numbers depend on the machine (and on the page cache: the
first round after a reboot reads the artifacts from disk).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from multi_model_memory import resident_mib

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes (spawned by multiprocessing), not its resource tracker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def one_start(home: Path, workers: int) -> dict[str, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PRACTICA_HOME": str(home), "PRACTICA_LOG_LEVEL": "WARNING"}
    command = [str(VENV_BIN / "practica"), "serve", "--port", str(port), "--workers", str(workers)]
    started = time.perf_counter()
    quiet = subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
    try:
        serving: dict[str, int] = {}
        while time.perf_counter() - started < 120:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if answer.status_code == 200:
                    serving = answer.json()["serving"]
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        ready_s = time.perf_counter() - started
        time.sleep(1)  # every worker ready, not only the one that answered
        pids = [process.pid] if workers == 1 else workers_of(process.pid)
        rss = [round(resident_mib(pid)) for pid in pids]
        supervisor = None if workers == 1 else round(resident_mib(process.pid))
        return {"workers": workers, "models": len(serving), "ready_s": round(ready_s, 2),
                "worker_rss_mib": rss, "supervisor_rss_mib": supervisor}  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".practica", help="trained registry")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for workers in args.workers:
        for _ in range(args.rounds):
            row = one_start(args.home, workers)
            print(json.dumps(row), flush=True)
            rows.append(row)
    (ROOT / "bench" / "results" / "startup.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n| workers | models serving | ready s | RSS per worker MiB | supervisor MiB |")
    print("|---|---|---|---|---|")
    for row in rows:
        rss = ", ".join(map(str, row["worker_rss_mib"]))
        supervisor = row["supervisor_rss_mib"] or "-"
        print(f"| {row['workers']} | {row['models']} | {row['ready_s']} | {rss} | {supervisor} |")


if __name__ == "__main__":
    main()
