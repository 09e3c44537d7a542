"""params.yaml: each catalog model's full-profile training config, one section per model.

A DVC stage depends on its model's section, so editing a value there reruns that stage
alone, and `dvc params diff` shows what changed since the last commit.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from training.pipeline.yaml_files import render_yaml
from training.spec import AnySpec, TrainConfig

PARAMS_FILE = "params.yaml"
PARAMS_HEADER = """\
Training configs of the full profile, one section per catalog model: what `dvc repro`
trains with. Generated from the code's defaults by `python -m training.pipeline write`,
and a test keeps the committed file equal to them. To experiment, edit a value and run
`dvc repro`, then `dvc params diff` and `dvc metrics diff`; to change a default for good,
change it in the model's code and regenerate."""


def default_params(catalog: Sequence[AnySpec]) -> dict[str, dict[str, Any]]:
    """Each model's full-profile config as JSON-like values, by model name."""
    return {spec.name: spec.config("full").model_dump(mode="json") for spec in catalog}


def render_params(catalog: Sequence[AnySpec]) -> str:
    """The text of params.yaml for `catalog`."""
    return render_yaml(default_params(catalog), PARAMS_HEADER, inline_lists=True)


def load_params_config(spec: AnySpec, params_file: Path) -> TrainConfig:
    """The model's section of `params_file` as its training config.

    Keys the section leaves out keep their full-profile values; unknown keys and invalid
    values are refused (a `ValueError` naming them), as the config class refuses them.
    """
    document = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get(spec.name), dict):
        raise ValueError(f"{params_file} has no section {spec.name!r} (a mapping of config values)")
    defaults = spec.config("full").model_dump()
    config: TrainConfig = spec.config_schema.model_validate({**defaults, **document[spec.name]})
    return config
