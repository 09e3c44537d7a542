"""The training runner: config → seed → data → fit → evaluate → report → publish → promote."""

import importlib.metadata
import platform
import random
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_registry import Lineage, ModelNotFoundError, ModelRegistry, ModelVersion, Signature
from model_registry.flavors import dump_json
from model_registry.registry import DEFAULT_ALIAS
from training.run import ProgressListener, TrainingRun
from training.spec import AnySpec, Floor, ModelSpec, Profile, TrainConfig

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
CHECKOUT = Path(__file__).resolve().parent.parent
PIPELINE_OUTPUTS = ("metrics", "dvc.lock")
"""What `dvc repro` rewrites between its stages: outputs, not code, so a checkout they
alone differ in still counts as clean (else every stage after the first would be dirty)."""


@dataclass(frozen=True)
class TrainingOutcome:
    version: ModelVersion
    promoted: bool
    reason: str
    """Why `production` moved to the version, or stayed where it was."""


@dataclass(frozen=True)
class CodeRevision:
    commit: str
    has_uncommitted_changes: bool


def train_and_publish(
    spec: AnySpec,
    registry: ModelRegistry,
    *,
    profile: Profile = "full",
    config: TrainConfig | None = None,
    data_path: Path | None = None,
    listener: ProgressListener | None = None,
    force_promotion: bool = False,
) -> list[TrainingOutcome]:
    """Train every stage of `spec` (most specs have one) and publish a version for each.

    `config` replaces the profile's base config (a DVC stage reads it from params.yaml);
    the stages derive from it as they would from the profile's. `force_promotion` moves
    `production` to each new version whatever `promotion` would decide.
    """
    base = spec.config(profile) if config is None else config
    return [
        train_stage(
            spec,
            stage,
            registry,
            profile=profile,
            data_path=data_path,
            listener=listener,
            force_promotion=force_promotion,
        )
        for stage in spec.stages_from(base)
    ]


def train_stage(
    spec: AnySpec,
    config: TrainConfig,
    registry: ModelRegistry,
    *,
    profile: Profile,
    data_path: Path | None = None,
    listener: ProgressListener | None = None,
    force_promotion: bool = False,
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
    revision = code_revision()
    lineage = Lineage(
        dataset_sha256=run.dataset_sha256,
        git_revision=revision.commit if revision else None,
        has_uncommitted_changes=revision.has_uncommitted_changes if revision else None,
        parent_version=production_version(registry, spec.name),
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
    promoted, reason = (True, "forced") if force_promotion else promotion(spec, registry, version)
    if promoted:
        registry.set_alias(spec.name, DEFAULT_ALIAS, version.version)
        version = registry.get_version(spec.name, version.version)
    return TrainingOutcome(version=version, promoted=promoted, reason=reason)


def production_version(registry: ModelRegistry, name: str) -> int | None:
    """The version `production` points at now; None before the model has one."""
    try:
        return registry.get_model(name).aliases.get(DEFAULT_ALIAS)
    except ModelNotFoundError:
        return None


def promotion(spec: AnySpec, registry: ModelRegistry, candidate: ModelVersion) -> tuple[bool, str]:
    """Whether a new version takes `production`, and why.

    A full-profile version that misses one of its quality floors never does: it is
    published, for its report, but the version serving stays. A smoke-profile version
    (seconds of training, for tests) never replaces a full one, and a full one always
    replaces a smoke one. Otherwise, champion/challenger: the newcomer must beat the
    champion recorded as its parent on the spec's selection metric, so the comparison
    made is the one the lineage reports.
    """
    profile = candidate.lineage.profile
    floors = spec.version_floors(candidate.params)
    missed = [floor for floor in floors if not floor.holds(candidate.metrics)]
    if profile == "full" and missed:
        return False, "misses its floor: " + "; ".join(
            _floor_text(floor, candidate.metrics) for floor in missed
        )
    parent = candidate.lineage.parent_version
    if parent is None:
        return True, "the model's first production version"
    champion = registry.get_version(spec.name, parent)
    if champion.lineage.profile != profile:
        if profile == "full":
            return True, f"replaces v{parent}, trained with the smoke profile"
        return False, f"a smoke-profile version does not replace v{parent} (full profile)"
    metric = spec.selection_metric
    if metric is None or metric not in champion.metrics:
        return True, "newest version"
    if candidate.metrics[metric] > champion.metrics[metric]:
        return True, f"beats v{parent} on {metric}"
    return False, (
        f"{metric} {candidate.metrics[metric]:.4g} does not beat v{parent}'s "
        f"{champion.metrics[metric]:.4g}"
    )


def _floor_text(floor: Floor, metrics: Mapping[str, float]) -> str:
    bound = f">= {floor.minimum:g}" if floor.minimum is not None else f"<= {floor.maximum:g}"
    return f"{floor.metric} {metrics[floor.metric]:.4g}, floor {bound}"


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


def code_revision(checkout: Path = CHECKOUT) -> CodeRevision | None:
    """The checkout's commit, and whether tracked files differ from it (None: no git)."""
    excluded = [f":(exclude){path}" for path in PIPELINE_OUTPUTS]
    try:
        commit = _git(checkout, "rev-parse", "HEAD")
        changes = _git(
            checkout, "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return CodeRevision(commit=commit, has_uncommitted_changes=bool(changes))


def _git(checkout: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()


def library_versions(extra: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """Installed versions of the default libraries and of those the run recorded."""
    versions = {}
    for name in sorted({*TRACKED_LIBRARIES, *extra}):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
