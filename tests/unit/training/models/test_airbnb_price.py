import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from training.models.airbnb_price import (
    CATEGORICAL,
    FEATURES,
    NUMERIC,
    TEXT,
    AirbnbPrice,
    AirbnbTrainConfig,
    Listing,
    PriceMeta,
    PriceModel,
    build_preprocess,
    clean_prices,
    listing_features,
    listing_inputs,
    title_counts,
    with_serving_path,
)
from training.spec import LoadContext

SPEC = AirbnbPrice()


def test_clean_prices_parses_dollar_text_and_turns_junk_into_nan() -> None:
    cleaned = clean_prices(pd.Series(["$1,234.00", " $85.00", "free", None]))
    assert cleaned.iloc[:2].tolist() == [1234.0, 85.0]
    assert cleaned.iloc[2:].isna().all()
    assert clean_prices(pd.Series([99, 120])).tolist() == [99.0, 120.0]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Modern 2BR/2BA Craftsman near Green Lake", (2, 2, None, None, 0)),
        ("3B2.5B house with view", (3, 2.5, None, None, 0)),
        ("Spacious 3 bedrooms, 1.5 baths, 4 beds, sleeps 8", (3, 1.5, 4, 8, 0)),
        ("Cozy studio, sleeps up to 2", (None, None, None, 2, 1)),
        ("Loft at 1234 B street", (None, None, None, None, 0)),  # an address, not rooms
        ("Unit 99BR/2BA", (None, 2, None, None, 0)),  # too many rooms: only the baths count
        ("Bright studio near the lake", (None, None, None, None, 1)),  # no digit at all
        ("Maison ٣ bedrooms, sleeps ٦", (3, None, None, 6, 0)),  # digits of another script
        ("2 KING BEDS, SLEEPS 6", (None, None, 2, 6, 0)),  # any case
        ("Loft with 1 BA and 2 beds", (None, 1, 2, None, 0)),
        # Ignoring case matches more than lowercasing outside ASCII: a dotless i, a long s.
        ("Cozy Stud\u0131o loft", (None, None, None, None, 1)),
        ("Café loft, \u017fleeps 4", (None, None, None, 4, 0)),
    ],
)
def test_title_counts_read_rooms_written_in_titles(
    title: str, expected: tuple[float | None, ...]
) -> None:
    got = tuple(None if np.isnan(v) else v for v in title_counts(title))
    assert got == expected


WORST_CASE_TITLES = [
    "1" + " " * 4_998 + "x",  # a digit, then a long run of spaces: `\s*-?\s*` backtracked
    "9" + "\t" * 4_990 + "-" + " " * 8,
    "2 br / " * 700,
    "1 - " * 1_250,
    "sleeps " * 700,
]


@pytest.mark.parametrize("title", WORST_CASE_TITLES, ids=range(len(WORST_CASE_TITLES)))
def test_no_title_makes_the_room_patterns_backtrack(title: str) -> None:
    # 20 such titles took 10 s when whitespace runs reached the patterns (quadratic); now
    # about 0.05 s. The bound is loose on purpose: it fails only on super-linear time.
    started = time.perf_counter()
    counts = [title_counts(title) for _ in range(20)]
    assert time.perf_counter() - started < 1.0
    assert len(counts) == 20


def test_listing_features_measure_recency_from_the_reference_date() -> None:
    rows = pd.DataFrame([
        SPEC.example_input.model_dump(),
        {**SPEC.example_input.model_dump(), "last_review": None, "reviews_per_month": None,
         "neighbourhood": None},
        {**SPEC.example_input.model_dump(), "last_review": date(2030, 1, 1)},
    ])  # fmt: skip
    features = listing_features(rows, reference_date="2025-03-16")
    assert list(features) == [*NUMERIC, *CATEGORICAL, TEXT]
    days = features["days_since_last_review"].tolist()
    assert days[0] == 21
    assert np.isnan(days[1])  # never reviewed: imputed in the pipeline, with an indicator
    assert days[2] == 0  # a date after the training data counts as zero days
    assert features["reviews_per_month"].tolist() == [2.1, 0.0, 2.1]  # never reviewed
    assert features["neighbourhood"].tolist() == ["Green Lake", "unknown", "Green Lake"]
    assert features["bedrooms"].tolist() == [2, 2, 2]


def test_a_request_gets_the_features_its_csv_row_got_in_training() -> None:
    # The CSV's way of saying things: an empty cell is NaN, a date is text.
    row = {**SPEC.example_input.model_dump(mode="json"), "reviews_per_month": np.nan}
    trained = listing_features(pd.DataFrame([row]), reference_date="2025-03-16")
    request = Listing.model_validate({**row, "reviews_per_month": None})
    served = listing_inputs(vars(request), date(2025, 3, 16))

    assert list(trained.columns) == FEATURES
    assert trained["reviews_per_month"].tolist() == [0.0]
    assert trained["days_since_last_review"].tolist() == [21.0]
    np.testing.assert_equal(served, tuple(trained.iloc[0].tolist()))


def test_a_csv_row_with_junk_counts_gets_missing_features_not_an_error() -> None:
    row = {**SPEC.example_input.model_dump(mode="json"), "minimum_nights": -3,
           "number_of_reviews": np.nan, "calculated_host_listings_count": 0}  # fmt: skip
    features = listing_features(pd.DataFrame([row]), reference_date="2025-03-16")

    assert np.isnan(features["log_minimum_nights"][0])  # imputed in the pipeline
    assert np.isnan(features["log_number_of_reviews"][0])
    assert features["log_host_listings"][0] == 0.0


def _trained(winner: str) -> PriceModel:
    import xgboost
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    rows = pd.DataFrame([SPEC.example_input.model_dump()] * 40)
    rows["latitude"] = rng.uniform(47.5, 47.7, 40)
    features = pd.DataFrame(listing_features(rows, reference_date="2025-03-16"))
    y = 5 + rng.normal(scale=0.3, size=40)
    preprocess = build_preprocess(AirbnbTrainConfig(tfidf_max_features=20)).fit(features)
    X = preprocess.transform(features)
    regressor = (
        Ridge().fit(X, y)
        if winner == "ridge"
        else xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(X, y), 3)
    )
    meta = PriceMeta(
        reference_date="2025-03-16", price_cap_usd=700.0, log_price_range=(3.0, 6.5),
        listings_with_price=40, listings_without_price=0, estimator=winner,  # type: ignore[arg-type]
        validation_r2_log_price={"ridge": 0.5, "xgboost": 0.4}, ridge_alpha=1.0,
        xgboost_max_depth=4, xgboost_rounds=3,
    )  # fmt: skip
    return PriceModel(preprocess, regressor, meta)


@pytest.mark.parametrize(
    ("winner", "regressor_file"), [("ridge", "ridge.skops"), ("xgboost", "booster.ubj")]
)
def test_save_then_load_keeps_the_file_names_of_earlier_versions(
    winner: str, regressor_file: str
) -> None:
    artifact = _trained(winner)
    files = SPEC.save(artifact)
    assert set(files) == {"preprocess.skops", "meta.json", regressor_file}
    loaded = SPEC.load(files, LoadContext())
    assert loaded.meta == artifact.meta
    [before], [after] = (SPEC.predict(a, [SPEC.example_input]) for a in (artifact, loaded))
    assert after.price_usd == pytest.approx(before.price_usd)
    assert np.exp(3.0 - 1) <= after.price_usd <= np.exp(6.5 + 1)


def test_xgboost_winner_is_served_by_its_onnx_graph_and_the_replayed_preprocessing() -> None:
    artifact = _trained("xgboost")
    rows = pd.DataFrame([SPEC.example_input.model_dump()] * 8)
    rows["latitude"] = np.linspace(47.5, 47.7, 8)
    held_out = pd.DataFrame(listing_features(rows, reference_date="2025-03-16"))
    files = SPEC.save(with_serving_path(artifact, held_out))
    assert "compiled.onnx" in files
    loaded = SPEC.load(files, LoadContext())
    assert loaded.compiled is not None
    assert loaded.replay is not None
    [before], [after] = (SPEC.predict(a, [SPEC.example_input]) for a in (artifact, loaded))
    assert after.price_usd == pytest.approx(before.price_usd, rel=1e-4)
