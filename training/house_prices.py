"""Module 5: linear regression of Boston house prices, with its coefficients in the report."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field

from model_registry.flavors import dump_npz, load_npz
from training.datasets import load_boston
from training.plotting import new_figure, plt
from training.run import TrainingRun
from training.spec import Floor, ModelSpec, Schema, TrainConfig

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


class HousePricesTrainConfig(TrainConfig):
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share of the tracts")
    random_state: int = 42
    cv_folds: int = Field(10, ge=2, description="folds of the cross-validated R² in the report")


def design_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Features of the linear model: raw columns plus the transforms that linearise them.

    Crime, distance and lower-status share act multiplicatively (log); price rises
    faster than linearly with rooms (square).
    """
    columns = {name: frame[name].to_numpy(dtype=np.float64) for name in COLUMNS.values()}
    columns["log_crim"] = np.log(columns.pop("crim"))
    columns["log_dis"] = np.log(columns.pop("dis"))
    columns["log_lstat"] = np.log(columns.pop("lstat"))
    columns["rm_squared"] = columns["rm"] ** 2
    return np.column_stack(list(columns.values())), list(columns)


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


@dataclass(frozen=True)
class BostonSplit:
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    cv_folds: int


class HousePrices(
    ModelSpec[HouseFeatures, HousePrice, HousePricesTrainConfig, BostonSplit, LinearModel]
):
    name = "house-prices"
    module = 5
    title = "Linear regression of Boston house prices"
    kind = "regressor"
    flavor = "numpy"
    input_schema = HouseFeatures
    output_schema = HousePrice
    config_schema = HousePricesTrainConfig
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
        from sklearn.model_selection import train_test_split

        frame, target = load_boston(run, run.data_path)
        X, names = design_matrix(frame)
        X_train, X_test, y_train, y_test = train_test_split(
            X, target, test_size=config.test_size, random_state=config.random_state
        )
        return BostonSplit(X_train, X_test, y_train, y_test, names, config.cv_folds)

    def fit(
        self, config: HousePricesTrainConfig, data: BostonSplit, run: TrainingRun
    ) -> LinearModel:
        from sklearn.linear_model import LinearRegression
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(data.X_train)
        regression = LinearRegression().fit(scaler.transform(data.X_train), data.y_train)
        return LinearModel(
            feature_names=np.array(data.feature_names),
            mean=scaler.mean_,
            scale=scaler.scale_,
            coef=regression.coef_,
            intercept=np.array([regression.intercept_]),
        )

    def evaluate(
        self, artifact: LinearModel, data: BostonSplit, run: TrainingRun
    ) -> dict[str, float]:
        from sklearn.linear_model import LinearRegression
        from sklearn.metrics import mean_absolute_error, r2_score
        from sklearn.model_selection import KFold, cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        predicted = artifact.predict(data.X_test)
        cv = cross_val_score(
            make_pipeline(StandardScaler(), LinearRegression()),
            data.X_train,
            data.y_train,
            cv=KFold(data.cv_folds, shuffle=True, random_state=0),
            scoring="r2",
        )
        metrics = {
            "test_r2": float(r2_score(data.y_test, predicted)),
            "test_mae_k_usd": float(mean_absolute_error(data.y_test, predicted)),
            "train_r2": float(r2_score(data.y_train, artifact.predict(data.X_train))),
            "cv_r2": float(cv.mean()),
            "cv_r2_std": float(cv.std()),
        }
        coefficients = sorted(
            zip(artifact.feature_names.tolist(), artifact.coef.tolist(), strict=True),
            key=lambda item: abs(item[1]),
            reverse=True,
        )
        run.add_table(
            "coefficients",
            {
                "intercept_k_usd": float(artifact.intercept[0]),
                "per_standard_deviation_k_usd": dict(coefficients),
            },
        )
        self._plot(coefficients, data.y_test, predicted, run)
        top = coefficients[0]
        run.note(
            f"Held-out R² {metrics['test_r2']:.3f} ({data.cv_folds}-fold CV on the training part "
            f"{metrics['cv_r2']:.3f} ± {metrics['cv_r2_std']:.3f}); the strongest effect is "
            f"{top[0]}: {top[1]:+.2f} k USD per standard deviation."
        )
        return metrics

    def _plot(
        self,
        coefficients: list[tuple[str, float]],
        actual: np.ndarray,
        predicted: np.ndarray,
        run: TrainingRun,
    ) -> None:
        figure, axes = new_figure(6.4, 5)
        names = [name for name, _ in coefficients][::-1]
        values = [value for _, value in coefficients][::-1]
        axes.barh(names, values, color=["C3" if v < 0 else "C0" for v in values])
        axes.set(xlabel="k USD per standard deviation", title="Linear regression coefficients")
        run.add_plot("coefficients", figure)

        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.scatter(actual, predicted, alpha=0.6)
        low, high = float(actual.min()), float(actual.max())
        left.plot([low, high], [low, high], color="grey", linestyle="--")
        left.set(xlabel="actual (k USD)", ylabel="predicted (k USD)", title="Held-out tracts")
        right.scatter(predicted, actual - predicted, alpha=0.6)
        right.axhline(0, color="grey", linestyle="--")
        right.set(xlabel="predicted (k USD)", ylabel="residual (k USD)", title="Residuals")
        run.add_plot("predicted_vs_actual", figure)

    def save(self, artifact: LinearModel) -> dict[str, bytes]:
        return {"linear_model.npz": dump_npz(artifact.__dict__)}

    def load(self, files: Mapping[str, bytes]) -> LinearModel:
        return LinearModel(**load_npz(files["linear_model.npz"]))

    def predict(self, artifact: LinearModel, batch: Sequence[HouseFeatures]) -> list[HousePrice]:
        frame = pd.DataFrame(
            [{COLUMNS[field]: float(value) for field, value in item} for item in batch]
        )
        X, _ = design_matrix(frame)
        return [HousePrice(median_value_k_usd=round(float(v), 3)) for v in artifact.predict(X)]
