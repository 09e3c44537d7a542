"""How long `cat-dog` takes to classify one uploaded photo, decoding included, on one core.

Opens the serving version from a trained registry the way the server does (ONNX Runtime,
one intra-op thread), then classifies Oxford-IIIT Pet JPEGs one at a time from their
bytes: the work behind `POST /classify/cat-dog` after the upload is read.

    .venv/bin/python bench/cat_dog_photo.py --home .practica

A benchmark, not a test: numbers depend on the machine.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from model_registry import ModelRegistry, RegistrySettings
from training import LoadContext
from training.catalog import get_spec
from training.runner import REPORT_PREFIX

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".practica", help="trained registry")
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5, help="passes over the photos")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    spec = get_spec("cat-dog")
    with ModelRegistry.from_settings(RegistrySettings(home=args.home)) as registry:
        record = registry.resolve(spec.name)
        names = [f for f in record.files if not f.startswith(REPORT_PREFIX)]
        artifact = spec.load(registry.read_files(record, names), LoadContext(threads=1))
    folder = ROOT / "data" / "oxford_pets"
    photos = [p.read_bytes() for p in sorted(folder.glob("*/*.jpg"))[:: 240 // args.photos]]
    upload = spec.input_schema.from_upload  # type: ignore[attr-defined]
    spec.predict(artifact, [upload(photos[0])])  # warm up the session
    timings = []
    for _ in range(args.repeats):
        for photo in photos:
            started = time.perf_counter()
            spec.predict(artifact, [upload(photo)])
            timings.append(1000 * (time.perf_counter() - started))
    timings.sort()
    print(json.dumps({
        "photos": len(photos), "calls": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p90_ms": round(timings[int(0.9 * (len(timings) - 1))], 2),
        "mean_kib": round(statistics.mean(len(p) for p in photos) / 1024, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
