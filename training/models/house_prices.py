"""Module 5: linear regression of Boston house prices, with its coefficients in the report.

Served as it trained: the design matrix and the weights in NumPy, no DataFrame per request.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from training.data import Holdout, SplitConfig, holdout, request_records
from training.data.loaders import load_boston
from training.frameworks.numpy import NumpySpec
from training.report.importance import plot_importance
from training.report.regression import report_regression
from training.run import TrainingRun
from training.spec import Floor, HeldOut, Schema

# Request field → column of the classic dataset.
COLUMNS = {
    "per_capita_crime_rate": "crim",
    "residential_land_zoned_pct": "zn",
    "industrial_acres_pct": "indus",
    "borders_charles_river": "chas",
    "nitric_oxides_pp10m": "nox",
    "rooms_per_dwelling": "rm",
    "built_before_1940_pct": "age",
    "distance_to_employment_centres": "dis",
    "highway_access_index": "rad",
    "property_tax_per_10k_usd": "tax",
    "pupil_teacher_ratio": "ptratio",
    "lower_status_population_pct": "lstat",
}
_LOGGED = ("crim", "dis", "lstat")  # act multiplicatively
FEATURE_NAMES = [
    *(column for column in COLUMNS.values() if column not in _LOGGED),
    *(f"log_{column}" for column in _LOGGED),
    "rm_squared",
]
BostonSplit = Holdout[np.ndarray]  # rows of `design_matrix`; y in k USD


class HouseFeatures(Schema):
    """One census tract of 1970s Boston."""

    per_capita_crime_rate: float = Field(gt=0, le=100)
    residential_land_zoned_pct: float = Field(ge=0, le=100, description="lots over 25,000 sq ft")
    industrial_acres_pct: float = Field(ge=0, le=100, description="non-retail business acres")
    borders_charles_river: bool
    nitric_oxides_pp10m: float = Field(gt=0, le=1, description="parts per 10 million")
    rooms_per_dwelling: float = Field(gt=0, le=20)
    built_before_1940_pct: float = Field(ge=0, le=100, description="owner-occupied units")
    distance_to_employment_centres: float = Field(
        gt=0, le=20, description="weighted, to five Boston centres"
    )
    highway_access_index: float = Field(ge=1, le=24, description="accessibility to radial highways")
    property_tax_per_10k_usd: float = Field(gt=0, le=1000, description="full-value tax rate")
    pupil_teacher_ratio: float = Field(gt=0, le=50)
    lower_status_population_pct: float = Field(gt=0, le=100)


class HousePrice(Schema):
    median_value_k_usd: float = Field(description="median home value, thousands of 1970s USD")


class HousePricesTrainConfig(SplitConfig):
    random_state: int = 42
    cv_folds: int = Field(10, ge=2, description="folds of the cross-validated R² in the report")


def design_matrix(columns: Mapping[str, Any]) -> np.ndarray:
    """Features of the linear model (FEATURE_NAMES) from the dataset's columns by name:
    raw columns plus the transforms that linearise them.

    Crime, distance and lower-status share act multiplicatively (log); price rises
    faster than linearly with rooms (square).
    """
    column = {name: np.asarray(columns[name], dtype=np.float64) for name in COLUMNS.values()}
    return np.column_stack([
        *(column[name] for name in COLUMNS.values() if name not in _LOGGED),
        *(np.log(column[name]) for name in _LOGGED),
        column["rm"] ** 2,
    ])  # fmt: skip


@dataclass(frozen=True)
class LinearModel:
    """Ordinary least squares on standardised features."""

    feature_names: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # per standardised feature: effect of one standard deviation, k USD
    intercept: np.ndarray  # shape (1,)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(((X - self.mean) / self.scale) @ self.coef + self.intercept[0])


class HousePrices(
    NumpySpec[HouseFeatures, HousePrice, HousePricesTrainConfig, BostonSplit, LinearModel]
):
    name, module, kind = "house-prices", 5, "regressor"
    title = "Linear regression of Boston house prices"
    example_input = HouseFeatures(
        per_capita_crime_rate=0.00632,
        residential_land_zoned_pct=18.0,
        industrial_acres_pct=2.31,
        borders_charles_river=False,
        nitric_oxides_pp10m=0.538,
        rooms_per_dwelling=6.575,
        built_before_1940_pct=65.2,
        distance_to_employment_centres=4.09,
        highway_access_index=1,
        property_tax_per_10k_usd=296,
        pupil_teacher_ratio=15.3,
        lower_status_population_pct=4.98,
    )
    floors = (Floor("test_r2", minimum=0.70),)
    selection_metric = "cv_r2"

    def load_data(self, config: HousePricesTrainConfig, run: TrainingRun) -> BostonSplit:
        frame, target = load_boston(run, run.data_path)
        X = design_matrix({name: frame[name] for name in COLUMNS.values()})
        return holdout(X, target, config, stratify=False)

    def fit(
        self, config: HousePricesTrainConfig, data: BostonSplit, run: TrainingRun
    ) -> LinearModel:
        from sklearn.linear_model import LinearRegression
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(data.X_train)
        regression = LinearRegression().fit(scaler.transform(data.X_train), data.y_train)
        return LinearModel(
            feature_names=np.array(FEATURE_NAMES),
            mean=scaler.mean_,
            scale=scaler.scale_,
            coef=regression.coef_,
            intercept=np.array([regression.intercept_]),
        )

    def evaluate(
        self,
        artifact: LinearModel,
        data: BostonSplit,
        config: HousePricesTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:
        from sklearn.linear_model import LinearRegression
        from sklearn.metrics import r2_score
        from sklearn.model_selection import KFold, cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        predicted = artifact.predict(data.X_test)
        metrics = report_regression(run, data.y_test, predicted, unit="k USD")
        metrics["test_mae_k_usd"] = metrics.pop("test_mae")
        cv = cross_val_score(
            make_pipeline(StandardScaler(), LinearRegression()), data.X_train, data.y_train,
            cv=KFold(config.cv_folds, shuffle=True, random_state=0), scoring="r2",
        )  # fmt: skip
        metrics |= {
            "train_r2": float(r2_score(data.y_train, artifact.predict(data.X_train))),
            "cv_r2": float(cv.mean()),
            "cv_r2_std": float(cv.std()),
        }
        [top, *_] = plot_importance(
            run, artifact.feature_names, artifact.coef, top=len(artifact.coef), signed=True,
            xlabel="k USD per standard deviation", title="Linear regression coefficients",
        )  # fmt: skip
        run.note(
            f"Held-out R² {metrics['test_r2']:.3f} ({config.cv_folds}-fold CV on the training "
            f"part {metrics['cv_r2']:.3f} ± {metrics['cv_r2_std']:.3f}); the strongest effect is "
            f"{top['feature']}: {top['value']:+.2f} k USD per standard deviation, from the "
            f"{artifact.intercept[0]:.2f} k USD of an average training tract."
        )
        return metrics

    def held_out(self, config: HousePricesTrainConfig, run: TrainingRun) -> HeldOut:
        from sklearn.metrics import r2_score

        frame, target = load_boston(run, run.data_path)
        tracts = pd.DataFrame({field: frame[column] for field, column in COLUMNS.items()})
        tracts["borders_charles_river"] = tracts["borders_charles_river"].astype(bool)
        split = holdout(tracts, target, config, stratify=False)  # the rows `load_data` held out

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            predicted = [answer["median_value_k_usd"] for answer in answers]
            return {"test_r2": float(r2_score(split.y_test, predicted))}

        # Answers are rounded to the dollar, which moves R² in its sixth decimal.
        return HeldOut(request_records(split.X_test), score, tolerance=1e-5)

    def predict(self, artifact: LinearModel, batch: Sequence[HouseFeatures]) -> list[HousePrice]:
        X = design_matrix({column: [getattr(item, field) for item in batch]
                           for field, column in COLUMNS.items()})  # fmt: skip
        return [HousePrice(median_value_k_usd=round(float(v), 3)) for v in artifact.predict(X)]
