import numpy as np
import pandas as pd
import pytest

from model_registry.errors import ArtifactIntegrityError
from model_registry.flavors import dump_json, dump_xgboost
from training.models.loan_default import (
    FEATURES,
    NUMERIC,
    PURPOSES,
    SEARCH_SPACE,
    LoanDefault,
    LoanDefaultTrainConfig,
    LoanModel,
    best_f1_threshold,
    booster_params,
    feature_matrix,
    search_trials,
)
from training.spec import LoadContext


def _booster() -> object:
    import xgboost

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, len(FEATURES))), rng.integers(0, 2, 60)
    return xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(X, y), 3)


def _legacy_encoding(**changes: object) -> dict[str, object]:
    """encoding.json as versions before the framework layout wrote it."""
    return {
        "best_iteration": 2, "feature_names": FEATURES, "purposes": list(PURPOSES),
        "params": {"learning_rate": 0.1, "max_depth": 4, "min_child_weight": 5},
        "threshold": 0.18, "validation_roc_auc": 0.67, **changes,
    }  # fmt: skip


def test_feature_matrix_keeps_numeric_columns_then_one_hot_purpose() -> None:
    rows = pd.DataFrame([
        {**dict.fromkeys(NUMERIC, 1.0), "fico": 700, "purpose": "credit_card"},
        {**dict.fromkeys(NUMERIC, 2.0), "fico": 650, "purpose": "small_business"},
    ])  # fmt: skip
    X = feature_matrix(rows)
    assert X.shape == (2, len(FEATURES))
    assert X[:, FEATURES.index("fico")].tolist() == [700, 650]
    one_hot = X[:, len(NUMERIC) :]
    assert one_hot.sum(axis=1).tolist() == [1, 1]
    assert FEATURES[len(NUMERIC) + int(one_hot[0].argmax())] == "purpose_credit_card"
    assert FEATURES[len(NUMERIC) + int(one_hot[1].argmax())] == "purpose_small_business"


def test_best_f1_threshold_beats_every_other_cut() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    probability = np.clip(0.3 * y + rng.uniform(0, 0.7, 300), 0, 1)

    def f1(cut: float) -> float:
        flagged = probability >= cut
        return float(2 * (flagged & (y == 1)).sum() / (flagged.sum() + y.sum()))

    best = f1(best_f1_threshold(y, probability))
    assert all(best >= f1(cut) - 1e-12 for cut in np.unique(probability))


def test_search_trials_draw_distinct_grid_points_reproducibly() -> None:
    trials = search_trials(10, random_state=3)
    assert trials == search_trials(10, random_state=3)
    assert len({tuple(t.values()) for t in trials}) == 10
    assert all(t[k] in SEARCH_SPACE[k] for t in trials for k in SEARCH_SPACE)
    assert len(search_trials(10_000, random_state=0)) == np.prod(
        [len(v) for v in SEARCH_SPACE.values()]
    )


def test_booster_params_constrain_risk_monotonically_by_feature_position() -> None:
    params = booster_params(search_trials(1, 0)[0], LoanDefaultTrainConfig())
    constraints = params["monotone_constraints"].strip("()").split(",")
    assert len(constraints) == len(FEATURES)
    assert constraints[FEATURES.index("fico")] == "-1"
    assert constraints[FEATURES.index("int_rate")] == "1"
    assert isinstance(params["max_depth"], int)
    unconstrained = LoanDefaultTrainConfig(use_monotone_constraints=False)
    assert "monotone_constraints" not in booster_params(search_trials(1, 0)[0], unconstrained)


def test_load_reads_encoding_json_of_versions_before_the_layout() -> None:
    spec = LoanDefault()
    files = {"model.ubj": dump_xgboost(_booster()), "encoding.json": dump_json(_legacy_encoding())}
    artifact = spec.load(files, LoadContext())
    assert (artifact.threshold, artifact.best_iteration, artifact.params["max_depth"]) == (
        0.18,
        2,
        4,
    )
    [prediction] = spec.predict(artifact, [spec.example_input])
    assert prediction.default == (prediction.probability >= 0.18)


def test_save_then_load_round_trips_through_meta_json() -> None:
    spec = LoanDefault()
    artifact = LoanModel(_booster(), FEATURES, 0.2, 2, 0.66, {"max_depth": 3.0})
    files = spec.save(artifact)
    assert set(files) == {"model.ubj", "meta.json"}
    loaded = spec.load(files, LoadContext())
    assert (loaded.threshold, loaded.params) == (0.2, {"max_depth": 3.0})
    assert spec.predict(loaded, [spec.example_input]) == spec.predict(
        artifact, [spec.example_input]
    )


def test_load_refuses_a_version_trained_on_other_features() -> None:
    encoding = _legacy_encoding(feature_names=FEATURES[::-1])
    files = {"model.ubj": dump_xgboost(_booster()), "encoding.json": dump_json(encoding)}
    with pytest.raises(ArtifactIntegrityError):
        LoanDefault().load(files, LoadContext())
