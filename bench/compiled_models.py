"""Per-call latency of the classic models in process: compiled runtime vs original estimator.

Loads each model's `production` version from a trained registry as a server does
(`spec.load`, one compute thread) and times `spec.predict` on 1 and on 64 instances (the
model's example input, repeated): each round runs calls for at least `--round-s`
seconds, and the table shows the median of the rounds' mean call time. A model with a
compiled runtime (an ONNX graph, a NumPy replay) is timed twice: as served, and with its
runtime fields emptied, so that its original estimator answers.

    .venv/bin/python bench/compiled_models.py --home .practica --rounds 7

A benchmark, not a test: numbers depend on the machine; compare within one run.
Results go to `bench/results/compiled_models.json` and print as a markdown table.
"""

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

from model_registry import ModelRegistry, RegistrySettings
from training import CATALOG, LoadContext, ModelSpec
from training.runner import REPORT_PREFIX

ROOT = Path(__file__).resolve().parents[1]
CLASSIC = (
    "titanic-survival", "loan-default", "house-prices", "airbnb-price",
    "spam-svm", "review-sentiment", "mnist-knn",
)  # fmt: skip
BATCH_SIZES = (1, 64)


def call_time_us(call: Any, rounds: int, round_s: float) -> float:
    """Median over `rounds` of the mean time of one call, in microseconds."""
    call()  # warm-up: lazy initialisation, caches
    means = []
    for _ in range(rounds):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < round_s:
            call()
            calls += 1
        means.append(elapsed / calls * 1e6)
    return statistics.median(means)


def estimator_only(artifact: Any) -> Any | None:
    """The artifact with its compiled runtime emptied; None when it has none."""
    fields = dataclasses.fields(artifact) if dataclasses.is_dataclass(artifact) else ()
    runtime = {f.name: None for f in fields if f.metadata.get("runtime")}
    if not any(getattr(artifact, name) is not None for name in runtime):
        return None
    return dataclasses.replace(artifact, **runtime)


def time_model(
    spec: ModelSpec[Any, Any, Any, Any, Any], files: dict[str, bytes], rounds: int, round_s: float
) -> dict[str, dict[str, float]]:
    served = spec.load(files, LoadContext(threads=1))
    variants = {"served": served, "estimator": estimator_only(served)}
    timings: dict[str, dict[str, float]] = {}
    for variant, artifact in variants.items():
        if artifact is None:
            continue
        timings[variant] = {}
        for n in BATCH_SIZES:
            batch = [spec.example_input] * n
            timings[variant][f"{n}_rows_us"] = call_time_us(
                lambda: spec.predict(artifact, batch),  # noqa: B023 (called before the next loop)
                rounds, round_s,
            )  # fmt: skip
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".practica")
    parser.add_argument("--models", nargs="*", default=list(CLASSIC))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-s", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/compiled_models.json")
    args = parser.parse_args()

    specs = {spec.name: spec for spec in CATALOG if isinstance(spec, ModelSpec)}
    registry = ModelRegistry.from_settings(RegistrySettings(home=args.home))
    results: dict[str, Any] = {}
    try:
        for name in args.models:
            version = registry.resolve(name)
            files = registry.read_files(
                version, [f for f in version.files if not f.startswith(REPORT_PREFIX)]
            )
            results[name] = {
                "version": version.version,
                **time_model(specs[name], files, args.rounds, args.round_s),
            }
    finally:
        registry.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print("| model | version | served: 1 row | 64 rows | estimator: 1 row | 64 rows |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        cells = [
            f"{result[variant][f'{n}_rows_us']:,.0f} µs" if variant in result else "-"
            for variant in ("served", "estimator")
            for n in BATCH_SIZES
        ]
        print(f"| {name} | {result['version']} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
