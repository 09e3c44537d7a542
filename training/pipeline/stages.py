"""dvc.yaml: one stage per catalog model, with what its training depends on.

A stage's dependencies are the model's own file and the family helpers it imports, the
shared training code, the exact library pins (a library can change a model as much as
its code), the model's data folders and its section of params.yaml. Its output is a
metrics file kept in git (`cache: false`); the trained version itself goes to the registry.
"""

import ast
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.pipeline.params import PARAMS_FILE
from training.pipeline.yaml_files import render_yaml
from training.runner import CHECKOUT
from training.spec import AnySpec

DVC_FILE = "dvc.yaml"
METRICS_FOLDER = "metrics"
TRAINING = CHECKOUT / "training"
MODELS_PACKAGE = "training.models"
NOT_SHARED = frozenset({"models", "catalog.py", "__pycache__"})
"""training/ entries that are not every model's code: models/ holds one file per model
(each stage lists its own), and the catalog only lists them."""
PIPELINE_HEADER = """\
One stage per catalog model: `dvc repro` retrains the models whose code, data, library
pins or params changed, and publishes each as a new registry version. Generated from the
catalog by `python -m training.pipeline write`; a test keeps this file equal to it."""


def pipeline_stages(catalog: Sequence[AnySpec]) -> dict[str, Any]:
    """The content of dvc.yaml: a stage per model, named after it."""
    return {"stages": {spec.name: _stage(spec) for spec in catalog}}


def render_pipeline(catalog: Sequence[AnySpec]) -> str:
    """The text of dvc.yaml for `catalog`."""
    return render_yaml(pipeline_stages(catalog), PIPELINE_HEADER, inline_lists=False)


def metrics_path(spec: AnySpec) -> str:
    return f"{METRICS_FOLDER}/{spec.name}.json"


def _stage(spec: AnySpec) -> dict[str, Any]:
    metrics = metrics_path(spec)
    return {
        "cmd": f"python -m training.pipeline train {spec.name} "
        f"--params {PARAMS_FILE} --metrics {metrics}",
        "deps": [
            *code_dependencies(spec),
            "pyproject.toml",
            *(f"data/{folder}" for folder in spec.data_folders),
        ],
        "params": [spec.name],
        "metrics": [{metrics: {"cache": False}}],
    }


def code_dependencies(spec: AnySpec) -> list[str]:
    """The code a model trains with, relative to the checkout: its file and helpers first."""
    shared = sorted(
        entry for entry in TRAINING.iterdir() if entry.name not in NOT_SHARED and _is_code(entry)
    )
    own = _model_files(Path(inspect.getfile(type(spec))))
    return [_relative(path) for path in [*own, TRAINING / "models" / "__init__.py", *shared]]


def _model_files(model_file: Path) -> list[Path]:
    """The model's file, then the `_family.py` helpers it imports, directly or through others."""
    found = [model_file]
    for path in found:  # grows while it is walked: each helper's own imports join the queue
        for helper in _imported_helpers(path):
            if helper not in found:
                found.append(helper)
    return found[:1] + sorted(found[1:])


def _imported_helpers(path: Path) -> list[Path]:
    """Files of the `training.models._family` modules that `path` imports, however written."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    helpers = []
    for module in sorted(imported):
        package, _, name = module.rpartition(".")
        if package == MODELS_PACKAGE and name.startswith("_") and not name.startswith("__"):
            helpers.append(TRAINING / "models" / f"{name}.py")
    return helpers


def _is_code(entry: Path) -> bool:
    return entry.is_dir() or entry.suffix == ".py"


def _relative(path: Path) -> str:
    return path.relative_to(CHECKOUT).as_posix()
