"""params.yaml: generated from the code's defaults, read back into each model's config."""

from pathlib import Path

import pytest

from training import CATALOG, AnySpec, get_spec
from training.pipeline.params import PARAMS_FILE, load_params_config, render_params
from training.runner import CHECKOUT


def test_committed_params_file_equals_the_codes_defaults() -> None:
    committed = (CHECKOUT / PARAMS_FILE).read_text(encoding="utf-8")
    assert committed == render_params(CATALOG), (
        "params.yaml differs from the configs' defaults: run `python -m training.pipeline write`"
    )


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_each_section_reads_back_as_the_full_profile_config(spec: AnySpec) -> None:
    assert load_params_config(spec, CHECKOUT / PARAMS_FILE) == spec.config("full")


def test_a_section_overrides_only_the_values_it_names(tmp_path: Path) -> None:
    params = tmp_path / PARAMS_FILE
    params.write_text("titanic-survival:\n  n_estimators: 50\n  char_ngrams_unused: null\n")
    spec = get_spec("titanic-survival")
    with pytest.raises(ValueError, match="char_ngrams_unused"):
        load_params_config(spec, params)
    params.write_text("titanic-survival:\n  n_estimators: 50\n")
    config = load_params_config(spec, params)
    assert config == spec.config("full").model_copy(update={"n_estimators": 50})


@pytest.mark.parametrize(
    "text", ["", "iris-pca: {}\n", "titanic-survival: 3\n"], ids=["empty", "other", "scalar"]
)
def test_a_params_file_without_the_models_section_is_refused(tmp_path: Path, text: str) -> None:
    params = tmp_path / PARAMS_FILE
    params.write_text(text)
    with pytest.raises(ValueError, match="no section 'titanic-survival'"):
        load_params_config(get_spec("titanic-survival"), params)


def test_an_invalid_value_is_refused_naming_the_field(tmp_path: Path) -> None:
    params = tmp_path / PARAMS_FILE
    params.write_text("titanic-survival:\n  n_estimators: 0\n")
    with pytest.raises(ValueError, match="n_estimators"):
        load_params_config(get_spec("titanic-survival"), params)


def test_a_section_is_the_base_every_stage_derives_from(tmp_path: Path) -> None:
    params = tmp_path / PARAMS_FILE
    params.write_text("titanic-survival:\n  n_estimators: 50\n")
    spec = get_spec("titanic-survival")
    stages = spec.stages_from(load_params_config(spec, params))
    assert [(s.feature_set, s.n_estimators) for s in stages] == [("basic", 50), ("engineered", 50)]
    assert spec.stages("full") == spec.stages_from(spec.config("full"))
