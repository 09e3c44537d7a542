"""The training runner: config → seed → data → fit → evaluate → report → publish → promote."""

import importlib.metadata
import platform
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_registry import Lineage, ModelRegistry, ModelVersion, Signature
from model_registry.flavors import dump_json
from model_registry.registry import DEFAULT_ALIAS
from training.run import ProgressListener, TrainingRun
from training.spec import AnySpec, ModelSpec, Profile, TrainConfig

REPORT_PREFIX = "report/"
TRACKED_LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "skops",
    "xgboost-cpu",
    "mlxtend",
    "pydantic",
    "onnxruntime",
)
PHASES_PER_STAGE = 4
"""data, fit, evaluate, publish: what a progress bar over a stage counts."""


@dataclass(frozen=True)
class TrainingOutcome:
    version: ModelVersion
    promoted: bool


def train_and_publish(
    spec: AnySpec,
    registry: ModelRegistry,
    *,
    profile: Profile = "full",
    data_path: Path | None = None,
    listener: ProgressListener | None = None,
) -> list[TrainingOutcome]:
    """Train every stage of `spec` (most specs have one) and publish a version for each."""
    return [
        train_stage(spec, config, registry, profile=profile, data_path=data_path, listener=listener)
        for config in spec.stages(profile)
    ]


def train_stage(
    spec: AnySpec,
    config: TrainConfig,
    registry: ModelRegistry,
    *,
    profile: Profile,
    data_path: Path | None = None,
    listener: ProgressListener | None = None,
) -> TrainingOutcome:
    started = time.perf_counter()
    seed_everything(config.random_state)
    run = TrainingRun(data_path=data_path, listener=listener)

    run.phase("loading data")
    data = spec.load_data(config, run)
    run.phase("fitting")
    artifact = spec.fit(config, data, run)
    run.phase("evaluating on held-out data")
    metrics = spec.evaluate(artifact, data, config, run)

    run.phase("publishing")
    files = spec.save(artifact)
    report = report_files(run, metrics)
    lineage = Lineage(
        dataset_sha256=run.dataset_sha256,
        git_revision=git_revision(),
        library_versions=library_versions(run.libraries),
        python_version=platform.python_version(),
        training_seconds=round(time.perf_counter() - started, 3),
        profile=profile,
        report_files=sorted(report),
    )
    version = registry.publish(
        spec.name,
        {**files, **report},
        flavor=spec.flavor,
        signature=signature_of(spec),
        metrics=metrics,
        params=config.model_dump(mode="json"),
        lineage=lineage,
    )
    promoted = should_promote(spec, registry, version)
    if promoted:
        registry.set_alias(spec.name, DEFAULT_ALIAS, version.version)
        version = registry.get_version(spec.name, version.version)
    return TrainingOutcome(version=version, promoted=promoted)


def should_promote(spec: AnySpec, registry: ModelRegistry, candidate: ModelVersion) -> bool:
    """Champion/challenger: a newcomer takes `production` only if it beats the champion."""
    model = registry.get_model(spec.name)
    if DEFAULT_ALIAS not in model.aliases or spec.selection_metric is None:
        return True
    champion = registry.get_version(spec.name, model.aliases[DEFAULT_ALIAS])
    metric = spec.selection_metric
    if metric not in champion.metrics:
        return True
    return candidate.metrics[metric] > champion.metrics[metric]


def report_files(run: TrainingRun, metrics: dict[str, float]) -> dict[str, bytes]:
    files = {
        f"{REPORT_PREFIX}metrics.json": dump_json(metrics),
        f"{REPORT_PREFIX}report.json": dump_json({"tables": run.tables, "notes": run.notes}),
    }
    files.update({f"{REPORT_PREFIX}{name}.png": png for name, png in run.plots.items()})
    return files


def signature_of(spec: AnySpec) -> Signature:
    if isinstance(spec, ModelSpec):
        return Signature(
            inputs=spec.input_schema.model_json_schema(),
            outputs=spec.output_schema.model_json_schema(),
        )
    return Signature()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)


def git_revision() -> str | None:
    """The checkout's commit, suffixed `-dirty` when files differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if dirty else head


def library_versions(extra: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """Installed versions of the default libraries and of those the run recorded."""
    versions = {}
    for name in sorted({*TRACKED_LIBRARIES, *extra}):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
