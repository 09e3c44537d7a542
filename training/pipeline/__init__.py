"""Reproducing training with DVC: one pipeline stage per catalog model.

    params.py     each model's full-profile config as a section of params.yaml, and back
    stages.py     dvc.yaml: a stage per model with its code, data and params dependencies
    metrics.py    the metrics file a stage writes (`dvc metrics show` reads it)
    yaml_files.py how the generated files are written
    __main__.py   `python -m training.pipeline train NAME` (each stage's command) and `write`

params.yaml and dvc.yaml are generated from the catalog, and tests keep the committed
files equal to what the code generates, so neither can drift from the code's defaults.
"""

from training.pipeline.metrics import metrics_document, write_metrics
from training.pipeline.params import PARAMS_FILE, default_params, load_params_config, render_params
from training.pipeline.stages import DVC_FILE, code_dependencies, pipeline_stages, render_pipeline

__all__ = [
    "DVC_FILE",
    "PARAMS_FILE",
    "code_dependencies",
    "default_params",
    "load_params_config",
    "metrics_document",
    "pipeline_stages",
    "render_params",
    "render_pipeline",
    "write_metrics",
]
