"""Module 14 (capstone): nightly prices of Seattle Airbnb listings, Ridge vs XGBoost.

The pipeline cleans prices (text like "$1,234.00" or numbers; missing and non-positive
dropped, the top 1% of the training prices capped away), models the log price, and
builds features from location, room type, stay rules, reviews, availability, the host's
listing count and the listing's name (bedrooms, baths, beds and guests parsed from it,
plus TF-IDF of its words). Both candidates share that preprocessing; the one with the
better validation R² is published, and both are scored on the held-out listings.

Artifact: the fitted preprocessing in skops (`preprocess.skops`), the winning regressor
as a skops Ridge (`ridge.skops`) or an XGBoost UBJ booster (`booster.ubj`), and
`meta.json` naming the winner and the constants prediction needs.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, StringConstraints

from model_registry.flavors import (
    dump_json,
    dump_skops,
    dump_xgboost,
    load_json,
    load_skops,
    load_xgboost,
)
from training.datasets import load_airbnb_listings
from training.fields import Text
from training.plotting import new_figure, plt
from training.run import TrainingRun
from training.spec import Floor, ModelSpec, Schema, TrainConfig
from training.trusted_types import TRUSTED_TYPES

RoomType = Literal["Entire home/apt", "Private room", "Shared room", "Hotel room"]
Estimator = Literal["ridge", "xgboost"]
PlaceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
NUMERIC = [
    "latitude", "longitude", "log_minimum_nights", "log_number_of_reviews", "reviews_per_month",
    "days_since_last_review", "availability_365", "log_host_listings",
    "bedrooms", "bathrooms", "beds", "guests", "is_studio",
]  # fmt: skip
CATEGORICAL = ["room_type", "neighbourhood_group", "neighbourhood"]
TEXT = "name"
PREPROCESS_FILE = "preprocess.skops"
RIDGE_FILE = "ridge.skops"
BOOSTER_FILE = "booster.ubj"
META_FILE = "meta.json"

# Room counts as hosts write them in titles: "3B2.5B", "2BR/2BA", "2BD 1BA", "3 bedrooms".
_BED_BATH = re.compile(
    r"\b(\d{1,2})\s*b(?:r|d|ed)?s?\s*[/,&]?\s*(\d(?:\.5)?)\s*b(?:a|ath)?s?\b", re.I
)
_BEDROOMS = re.compile(r"\b(\d{1,2})\s*-?\s*(?:bedrooms?|bdrms?|brs?|bds?|b)\b", re.I)
_BATHROOMS = re.compile(r"\b(\d(?:\.5)?)\s*-?\s*(?:bathrooms?|baths?|ba)\b", re.I)
_BEDS = re.compile(r"\b(\d{1,2})\s*(?:queen |king |twin |full )?beds\b", re.I)
_GUESTS = re.compile(r"\bsleeps\s*(?:up to\s*)?(\d{1,2})\b", re.I)
_STUDIO = re.compile(r"\bstudio\b", re.I)
_MAX_COUNT = 20.0  # larger numbers in a title are addresses or prices, not rooms


class Listing(Schema):
    """A Seattle Airbnb listing as Inside Airbnb's summary file describes it."""

    name: Text = Field(description="the listing's title, e.g. 'Modern 2BR/2BA near Green Lake'")
    neighbourhood_group: PlaceName = Field(
        description="Inside Airbnb's district, e.g. 'Capitol Hill'; an unknown one is ignored"
    )
    neighbourhood: PlaceName = Field(
        description="Inside Airbnb's neighbourhood, e.g. 'Wallingford'; an unknown one is ignored"
    )
    latitude: float = Field(ge=47.48, le=47.74, description="degrees north, within Seattle")
    longitude: float = Field(ge=-122.46, le=-122.22, description="degrees east, within Seattle")
    room_type: RoomType
    minimum_nights: int = Field(ge=1, le=1125, description="shortest stay the host accepts")
    number_of_reviews: int = Field(ge=0, le=100_000)
    reviews_per_month: float | None = Field(
        None, ge=0, le=1000, description="average reviews per month; none when never reviewed"
    )
    last_review: date | None = Field(
        None, ge=date(2008, 1, 1), description="date of the latest review; none when never reviewed"
    )
    availability_365: int = Field(ge=0, le=365, description="nights bookable in the next year")
    calculated_host_listings_count: int = Field(
        ge=1, le=10_000, description="listings the host has in Seattle"
    )


class PriceEstimate(Schema):
    price_usd: float = Field(gt=0, description="estimated nightly price, USD")


class AirbnbPriceTrainConfig(TrainConfig):
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share of the listings")
    validation_size: float = Field(
        0.15, gt=0, lt=1, description="share of the training listings used to pick the winner"
    )
    price_quantile_cap: float = Field(
        0.99,
        gt=0.5,
        le=1,
        description="listings above this quantile of training prices are dropped",
    )
    tfidf_max_features: int = Field(500, ge=1, description="words and word pairs kept from names")
    ridge_alphas: tuple[float, ...] = Field((0.3, 1.0, 3.0, 10.0, 30.0), min_length=1)
    max_depths: tuple[int, ...] = Field(
        (4, 6, 8), min_length=1, description="XGBoost tree depths tried; the validation picks one"
    )
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_rounds: int = Field(3000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    n_jobs: int = Field(1, ge=1, le=2, description="XGBoost threads")


@dataclass(frozen=True)
class AirbnbSplit:
    train: pd.DataFrame  # features, from `listing_features`
    validation: pd.DataFrame
    test: pd.DataFrame
    y_train: np.ndarray  # log price
    y_validation: np.ndarray
    y_test: np.ndarray
    meta: dict[str, Any]  # reference date, price cap
    config: AirbnbPriceTrainConfig


@dataclass(frozen=True)
class PriceModel:
    preprocess: Any  # sklearn ColumnTransformer
    estimator_name: Estimator
    estimator: Any  # sklearn Ridge or xgboost.Booster
    meta: dict[str, Any]
    # Kept in memory for the report's comparison; only the winner is saved.
    runner_up: tuple[Estimator, Any] | None = field(default=None, compare=False)

    def predict_log_price(self, features: pd.DataFrame) -> np.ndarray:
        return _predict_log(
            self.estimator_name, self.estimator, self.preprocess.transform(features)
        )


def _predict_log(name: Estimator, estimator: Any, X: np.ndarray) -> np.ndarray:
    if name == "xgboost":
        return np.asarray(estimator.inplace_predict(X), dtype=np.float64)
    return np.asarray(estimator.predict(X), dtype=np.float64)


def clean_prices(price: pd.Series) -> pd.Series:
    """Nightly price in USD as floats; text such as '$1,234.00' is parsed, junk becomes NaN."""
    if pd.api.types.is_numeric_dtype(price):
        return price.astype(np.float64)
    text = price.astype("string").str.replace(r"[$,\s]", "", regex=True)
    return pd.to_numeric(text, errors="coerce").astype(np.float64)


def name_counts(names: pd.Series) -> pd.DataFrame:
    """Bedrooms, bathrooms, beds and guests written in titles (NaN when not), and studios."""

    def number(pattern: re.Pattern[str], group: int = 1) -> pd.Series:
        values = names.str.extract(pattern)[group - 1].astype(np.float64)
        return values.where(values <= _MAX_COUNT)

    bedrooms, bathrooms = number(_BED_BATH, 1), number(_BED_BATH, 2)
    return pd.DataFrame({
        "bedrooms": bedrooms.fillna(number(_BEDROOMS)),
        "bathrooms": bathrooms.fillna(number(_BATHROOMS)),
        "beds": number(_BEDS),
        "guests": number(_GUESTS),
        "is_studio": names.str.contains(_STUDIO).astype(np.float64),
    })  # fmt: skip


def listing_features(frame: pd.DataFrame, reference_date: str) -> pd.DataFrame:
    """Model inputs from listing rows in Inside Airbnb's columns.

    `reference_date` is the latest review date in the training data: review recency is
    measured from it, and a later date (at serving time) counts as zero days.
    """
    names = frame["name"].fillna("").astype(str)
    last_review = pd.to_datetime(frame["last_review"], errors="coerce")
    days = (pd.Timestamp(reference_date) - last_review).dt.days.astype(np.float64).clip(lower=0)
    out = pd.DataFrame({
        "latitude": frame["latitude"].astype(np.float64),
        "longitude": frame["longitude"].astype(np.float64),
        "log_minimum_nights": np.log1p(frame["minimum_nights"].astype(np.float64)),
        "log_number_of_reviews": np.log1p(frame["number_of_reviews"].astype(np.float64)),
        # Inside Airbnb leaves it empty exactly when a listing has no reviews.
        "reviews_per_month": frame["reviews_per_month"].astype(np.float64).fillna(0.0),
        "days_since_last_review": days,
        "availability_365": frame["availability_365"].astype(np.float64),
        "log_host_listings": np.log1p(frame["calculated_host_listings_count"].astype(np.float64)),
    }, index=frame.index)  # fmt: skip
    out = out.join(name_counts(names).set_axis(frame.index))
    for column in CATEGORICAL:
        out[column] = frame[column].fillna("unknown").astype(str)
    out[TEXT] = names
    return out[[*NUMERIC, *CATEGORICAL, TEXT]]


def build_preprocess(config: AirbnbPriceTrainConfig) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([
        # The indicator keeps "not stated in the title" / "never reviewed" as a signal.
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
    ])  # fmt: skip
    # Rare and unseen neighbourhoods share one 'infrequent' column instead of failing.
    categorical = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False
    )
    text = TfidfVectorizer(
        ngram_range=(1, 2), min_df=5, max_features=config.tfidf_max_features,
        sublinear_tf=True, strip_accents="unicode", dtype=np.float64,
    )  # fmt: skip
    return ColumnTransformer(
        [
            ("numeric", numeric, NUMERIC),
            ("categorical", categorical, CATEGORICAL),
            ("text", text, TEXT),
        ],
        sparse_threshold=0.0,  # dense: XGBoost then reads 0 as zero, not as missing
    )


class AirbnbPrice(
    ModelSpec[Listing, PriceEstimate, AirbnbPriceTrainConfig, AirbnbSplit, PriceModel]
):
    name = "airbnb-price"
    module = 14
    title = "Capstone: Seattle Airbnb nightly prices, Ridge vs XGBoost"
    kind = "regressor"
    # Preprocessing is always skops; the regressor is skops (Ridge) or UBJ (XGBoost), as
    # meta.json says.
    flavor = "skops"
    input_schema = Listing
    output_schema = PriceEstimate
    config_schema = AirbnbPriceTrainConfig
    example_input = Listing(
        name="Modern 2BR/2BA Craftsman near Green Lake | Parking",
        neighbourhood_group="Other neighborhoods",
        neighbourhood="Green Lake",
        latitude=47.6801,
        longitude=-122.3254,
        room_type="Entire home/apt",
        minimum_nights=2,
        number_of_reviews=87,
        reviews_per_month=2.1,
        last_review=date(2025, 2, 23),
        availability_365=210,
        calculated_host_listings_count=1,
    )
    floors = (Floor("test_r2_log_price", minimum=0.50),)
    selection_metric = "validation_r2_log_price"

    def smoke_config(self) -> AirbnbPriceTrainConfig:
        return AirbnbPriceTrainConfig(
            tfidf_max_features=50, ridge_alphas=(1.0,), max_depths=(4,), max_rounds=30,
            early_stopping_rounds=10,
        )  # fmt: skip

    def load_data(self, config: AirbnbPriceTrainConfig, run: TrainingRun) -> AirbnbSplit:
        from sklearn.model_selection import train_test_split

        frame = load_airbnb_listings(run, run.data_path)
        price = clean_prices(frame["price"])
        usable = price.notna() & (price > 0)
        frame, price = frame[usable], price[usable]
        train, test = train_test_split(
            frame, test_size=config.test_size, random_state=config.random_state
        )
        cap = float(price[train.index].quantile(config.price_quantile_cap))
        train, test = train[price[train.index] <= cap], test[price[test.index] <= cap]
        fit, validation = train_test_split(
            train, test_size=config.validation_size, random_state=config.random_state
        )
        reference = pd.to_datetime(train["last_review"], errors="coerce").max()
        meta = {
            "reference_date": reference.date().isoformat(),
            "price_cap_usd": cap,
            "log_price_range": [float(np.log(price[train.index].min())), float(np.log(cap))],
            "listings_with_price": int(usable.sum()),
            "listings_without_price": int((~usable).sum()),
        }
        reference_date = meta["reference_date"]
        return AirbnbSplit(
            train=listing_features(fit, reference_date),
            validation=listing_features(validation, reference_date),
            test=listing_features(test, reference_date),
            y_train=np.log(price[fit.index].to_numpy()),
            y_validation=np.log(price[validation.index].to_numpy()),
            y_test=np.log(price[test.index].to_numpy()),
            meta=meta,
            config=config,
        )

    def fit(
        self, config: AirbnbPriceTrainConfig, data: AirbnbSplit, run: TrainingRun
    ) -> PriceModel:
        import xgboost
        from sklearn.linear_model import RidgeCV
        from sklearn.metrics import r2_score

        preprocess = build_preprocess(config).fit(data.train)
        X_train = preprocess.transform(data.train)
        X_validation = preprocess.transform(data.validation)

        run.step("fitting Ridge")
        ridge = RidgeCV(alphas=list(config.ridge_alphas)).fit(X_train, data.y_train)
        candidates: dict[Estimator, Any] = {"ridge": ridge}
        scores: dict[Estimator, float] = {
            "ridge": float(r2_score(data.y_validation, ridge.predict(X_validation)))
        }
        train_matrix = xgboost.DMatrix(X_train, data.y_train)
        validation_matrix = xgboost.DMatrix(X_validation, data.y_validation)
        boosters = []
        for depth in config.max_depths:
            run.step(f"fitting XGBoost, depth {depth}")
            params = {
                "objective": "reg:squarederror",
                "tree_method": "hist",
                "nthread": config.n_jobs,
                "seed": config.random_state,
                "learning_rate": config.learning_rate,
                "max_depth": depth,
                "min_child_weight": 3,
                "subsample": 0.8,
                "colsample_bytree": 0.5,
                "reg_lambda": 5.0,
            }
            booster = xgboost.train(
                params,
                train_matrix,
                config.max_rounds,
                evals=[(validation_matrix, "validation")],
                early_stopping_rounds=config.early_stopping_rounds,
                verbose_eval=False,
            )
            booster = booster[: booster.best_iteration + 1]
            r2 = float(r2_score(data.y_validation, booster.inplace_predict(X_validation)))
            boosters.append((r2, depth, booster))
        r2, depth, booster = max(boosters, key=lambda item: item[0])
        candidates["xgboost"], scores["xgboost"] = booster, r2
        run.add_table("xgboost_depths", {str(d): round(s, 4) for s, d, _ in boosters})

        winner: Estimator = max(scores, key=lambda name: scores[name])
        loser: Estimator = "ridge" if winner == "xgboost" else "xgboost"
        meta = {
            **data.meta,
            "estimator": winner,
            "validation_r2_log_price": scores,
            "ridge_alpha": float(ridge.alpha_),
            "xgboost_max_depth": depth,
            "xgboost_rounds": int(booster.num_boosted_rounds()),
        }
        return PriceModel(preprocess, winner, candidates[winner], meta, (loser, candidates[loser]))

    def evaluate(
        self, artifact: PriceModel, data: AirbnbSplit, run: TrainingRun
    ) -> dict[str, float]:
        from sklearn.metrics import mean_absolute_error, r2_score

        X_test = artifact.preprocess.transform(data.test)
        models: dict[Estimator, Any] = {artifact.estimator_name: artifact.estimator}
        if artifact.runner_up is not None:
            models[artifact.runner_up[0]] = artifact.runner_up[1]
        actual = np.exp(data.y_test)
        comparison: dict[Estimator, dict[str, float]] = {}
        predictions: dict[Estimator, np.ndarray] = {}
        for name, estimator in models.items():
            predicted = self._clip(artifact, _predict_log(name, estimator, X_test))
            predictions[name] = predicted
            comparison[name] = {
                "validation_r2_log_price": float(artifact.meta["validation_r2_log_price"][name]),
                "test_r2_log_price": float(r2_score(data.y_test, predicted)),
                "test_rmse_log_price": float(np.sqrt(np.mean((data.y_test - predicted) ** 2))),
                "test_mae_usd": float(mean_absolute_error(actual, np.exp(predicted))),
                "test_median_ae_usd": float(np.median(np.abs(actual - np.exp(predicted)))),
            }
        winner = comparison[artifact.estimator_name]
        metrics = {**winner, "n_test_listings": float(len(actual))}
        for candidate, scores in comparison.items():
            metrics[f"{candidate}_test_r2_log_price"] = scores["test_r2_log_price"]
            metrics[f"{candidate}_test_mae_usd"] = scores["test_mae_usd"]
            metrics[f"{candidate}_validation_r2_log_price"] = scores["validation_r2_log_price"]
        run.add_table("comparison", comparison)
        run.add_table(
            "cleaning", {k: v for k, v in artifact.meta.items() if k != "validation_r2_log_price"}
        )
        self._plot_comparison(comparison, run)
        self._plot_winner(artifact, data.y_test, predictions[artifact.estimator_name], run)
        self._plot_importance(artifact, run)
        others = ", ".join(
            f"{candidate} {scores['test_r2_log_price']:.3f}"
            for candidate, scores in comparison.items()
            if candidate != artifact.estimator_name
        )
        run.note(
            f"Published: {artifact.estimator_name} (best validation R² of the log price). "
            f"On {len(actual)} held-out listings it reaches R² "
            f"{winner['test_r2_log_price']:.3f} on the log price (other candidate: {others}) "
            f"and a mean absolute error of "
            f"${winner['test_mae_usd']:.0f} a night (median ${winner['test_median_ae_usd']:.0f}). "
            f"Prices above ${artifact.meta['price_cap_usd']:.0f} (the top "
            f"{1 - data.config.price_quantile_cap:.0%} of training prices) and listings without a "
            f"price ({artifact.meta['listings_without_price']}) were left out, so estimates cover "
            f"ordinary listings, not luxury outliers."
        )
        return metrics

    @staticmethod
    def _clip(artifact: PriceModel, log_price: np.ndarray) -> np.ndarray:
        """Keep estimates within the training prices, give or take a factor e: a linear model
        fed extreme but valid inputs must not answer with an overflowing price."""
        low, high = artifact.meta["log_price_range"]
        return np.asarray(np.clip(log_price, low - 1.0, high + 1.0))

    def _plot_comparison(
        self, comparison: dict[Estimator, dict[str, float]], run: TrainingRun
    ) -> None:
        names = list(comparison)
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        for offset, key, label in (
            (-0.2, "validation_r2_log_price", "validation"),
            (0.2, "test_r2_log_price", "held-out test"),
        ):
            left.bar(
                np.arange(len(names)) + offset,
                [comparison[n][key] for n in names],
                0.4,
                label=label,
            )
        left.set_xticks(np.arange(len(names)), names)
        left.set(
            ylabel="R² of log price", title="Ridge vs XGBoost: R² (higher is better)", ylim=(0, 1)
        )
        left.legend()
        right.bar(names, [comparison[n]["test_mae_usd"] for n in names], color="C2")
        right.set(ylabel="USD per night", title="Held-out mean absolute error (lower is better)")
        for axes in (left, right):
            axes.grid(alpha=0.3, axis="y")
        run.add_plot("comparison", figure)

    def _plot_winner(
        self,
        artifact: PriceModel,
        actual_log: np.ndarray,
        predicted_log: np.ndarray,
        run: TrainingRun,
    ) -> None:
        from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

        name = artifact.estimator_name
        actual, predicted = np.exp(actual_log), np.exp(predicted_log)
        figure, axes = new_figure(5.5, 5)
        axes.scatter(actual, predicted, alpha=0.3, s=10)
        low, high = (
            float(min(actual.min(), predicted.min())),
            float(max(actual.max(), predicted.max())),
        )
        axes.plot([low, high], [low, high], color="grey", linestyle="--")
        axes.set(
            xscale="log",
            yscale="log",
            xlabel="actual price (USD/night)",
            ylabel="predicted price (USD/night)",
            title=f"{name}: held-out listings",
        )
        ticks = [t for t in (25, 50, 100, 200, 400, 800, 1600) if low / 1.5 <= t <= high * 1.5]
        for axis in (axes.xaxis, axes.yaxis):
            axis.set_major_locator(FixedLocator(ticks))
            axis.set_major_formatter(StrMethodFormatter("${x:.0f}"))
            axis.set_minor_formatter(NullFormatter())
        run.add_plot("predicted_vs_actual", figure)

        residual = actual_log - predicted_log
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.scatter(predicted_log, residual, alpha=0.3, s=10)
        left.axhline(0, color="grey", linestyle="--")
        left.set(
            xlabel="predicted log price",
            ylabel="residual (log)",
            title=f"{name}: residuals vs predicted",
        )
        right.hist(residual, bins=50)
        right.axvline(0, color="grey", linestyle="--")
        right.set(xlabel="residual (log price)", ylabel="listings", title="Residual distribution")
        for axes in (left, right):
            axes.grid(alpha=0.3)
        run.add_plot("residuals", figure)

    def _plot_importance(self, artifact: PriceModel, run: TrainingRun, top: int = 20) -> None:
        names = np.array([n.split("__", 1)[1] for n in artifact.preprocess.get_feature_names_out()])
        if artifact.estimator_name == "xgboost":
            gains = artifact.estimator.get_score(importance_type="total_gain")
            values = np.array([gains.get(f"f{i}", 0.0) for i in range(len(names))])
            label = "total gain"
        else:
            values = np.abs(artifact.estimator.coef_)
            label = "|coefficient| (standardised features)"
        order = np.argsort(values)[::-1][:top][::-1]
        figure, axes = new_figure(6.4, 0.3 * len(order) + 1.5)
        axes.barh(names[order], values[order])
        axes.set(xlabel=label, title=f"{artifact.estimator_name}: top {len(order)} features")
        run.add_plot("feature_importance", figure)

    def save(self, artifact: PriceModel) -> dict[str, bytes]:
        files = {
            PREPROCESS_FILE: dump_skops(artifact.preprocess),
            META_FILE: dump_json(artifact.meta),
        }
        if artifact.estimator_name == "xgboost":
            files[BOOSTER_FILE] = dump_xgboost(artifact.estimator)
        else:
            files[RIDGE_FILE] = dump_skops(artifact.estimator)
        return files

    def load(self, files: Mapping[str, bytes]) -> PriceModel:
        meta = load_json(files[META_FILE])
        preprocess = load_skops(files[PREPROCESS_FILE], TRUSTED_TYPES)
        name: Estimator = meta["estimator"]
        if name == "xgboost":
            estimator = load_xgboost(files[BOOSTER_FILE])
            estimator.set_param({"nthread": 1})  # a request's rows are few: threads cost more
        else:
            estimator = load_skops(files[RIDGE_FILE], TRUSTED_TYPES)
        return PriceModel(preprocess, name, estimator, meta)

    def predict(self, artifact: PriceModel, batch: Sequence[Listing]) -> list[PriceEstimate]:
        frame = pd.DataFrame([item.model_dump() for item in batch])
        features = listing_features(frame, artifact.meta["reference_date"])
        log_price = self._clip(artifact, artifact.predict_log_price(features))
        return [PriceEstimate(price_usd=round(float(p), 2)) for p in np.exp(log_price)]
