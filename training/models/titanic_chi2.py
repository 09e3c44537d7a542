"""Module 3: chi-squared tests of independence on the Titanic passenger list.

The report tests sex x survival and class x survival on the whole table. Serving runs
the same test on any contingency table a client sends.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from training.data.loaders import load_titanic
from training.frameworks.json import JsonSpec
from training.report.figures import subplots
from training.run import TrainingRun
from training.spec import Floor, HeldOut, Schema, TrainConfig

MAX_CATEGORIES = 50
MAX_COUNT = 1_000_000_000
CLASS_LABELS = {1: "1st class", 2: "2nd class", 3: "3rd class"}

Passengers = pd.DataFrame
"""Kaggle's passenger list, all of it: a test of independence describes the whole table."""
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Row = Annotated[
    list[Count],
    # "No all-zero row", as JSON Schema says it (an all-zero column it cannot say).
    Field(min_length=2, max_length=MAX_CATEGORIES, json_schema_extra={"contains": {"minimum": 1}}),
]


class ContingencyTable(Schema):
    table: list[Row] = Field(
        min_length=2,
        max_length=MAX_CATEGORIES,
        description="observed counts, one row per category of the first variable and one "
        f"column per category of the second; at least 2x2, at most {MAX_CATEGORIES}x"
        f"{MAX_CATEGORIES}, rectangular, each count 0 to {MAX_COUNT:,}, no all-zero row or column",
    )
    correction: bool = Field(
        False, description="apply Yates' continuity correction (only changes 2x2 tables)"
    )

    @field_validator("table")
    @classmethod
    def _testable(cls, table: list[list[int]]) -> list[list[int]]:
        widths = {len(row) for row in table}
        if len(widths) > 1:
            raise ValueError(f"rows must all have the same length, got lengths {sorted(widths)}")
        # A category never observed has zero expected counts: the statistic is undefined.
        empty_rows = [i for i, row in enumerate(table) if not any(row)]
        if empty_rows:
            raise ValueError(f"rows {empty_rows} are all zero")
        empty_columns = [j for j in range(len(table[0])) if not any(row[j] for row in table)]
        if empty_columns:
            raise ValueError(f"columns {empty_columns} are all zero")
        return table


class IndependenceTest(Schema):
    chi2: float = Field(ge=0, description="Pearson's chi-squared statistic")
    p_value: float = Field(
        ge=0, le=1, description="probability of a statistic this large under independence"
    )
    dof: int = Field(ge=1, description="degrees of freedom, (rows - 1) x (columns - 1)")
    expected: list[list[float]] = Field(
        description="counts expected under independence: row total x column total / grand total"
    )


class TitanicChi2TrainConfig(TrainConfig):
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of the conclusions")
    correction: bool = Field(
        False, description="Yates' continuity correction for the 2x2 sex x survival table"
    )


@dataclass(frozen=True)
class IndependenceResult:
    variable: str
    categories: list[str]
    outcomes: list[str]
    observed: list[list[int]]
    expected: list[list[float]]
    pearson_residuals: list[list[float]]
    chi2: float
    p_value: float
    dof: int
    cramers_v: float
    survival_rate: dict[str, float]


@dataclass(frozen=True)
class Chi2Results:
    """The artifact: both tests on the passenger list, as reported."""

    correction: bool
    alpha: float
    n_passengers: int
    sex: IndependenceResult
    pclass: IndependenceResult


def independence_test(
    observed: np.ndarray, correction: bool
) -> tuple[float, float, int, np.ndarray]:
    """scipy's chi2_contingency: Pearson's statistic, its p-value, dof and expected counts."""
    from scipy.stats import chi2_contingency

    result = chi2_contingency(observed, correction=correction)
    return (
        float(result.statistic),
        float(result.pvalue),
        int(result.dof),
        np.asarray(result.expected_freq),
    )


def cramers_v(chi2: float, observed: np.ndarray) -> float:
    """Effect size from 0 (independent) to 1 (one variable determines the other)."""
    return float(np.sqrt(chi2 / (observed.sum() * (min(observed.shape) - 1))))


def crosstab(frame: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Passengers counted by `variable` (rows, sorted) and outcome (columns: died, survived)."""
    return pd.crosstab(frame[variable], frame["Survived"]).reindex(columns=[0, 1], fill_value=0)


def _crosstab_test(
    frame: pd.DataFrame, variable: str, labels: Mapping[Any, str], correction: bool
) -> IndependenceResult:
    table = crosstab(frame, variable)
    observed = table.to_numpy(dtype=np.int64)
    chi2, p_value, dof, expected = independence_test(observed, correction)
    categories = [labels[key] for key in table.index]
    return IndependenceResult(
        variable=variable,
        categories=categories,
        outcomes=["died", "survived"],
        observed=observed.tolist(),
        expected=expected.round(3).tolist(),
        pearson_residuals=((observed - expected) / np.sqrt(expected)).round(3).tolist(),
        chi2=chi2,
        p_value=p_value,
        dof=dof,
        cramers_v=cramers_v(chi2, observed),
        survival_rate={
            c: float(row[1] / row.sum()) for c, row in zip(categories, observed, strict=True)
        },
    )


def _strength(v: float) -> str:
    """Cohen's conventional labels for an effect size on one degree of freedom."""
    if v < 0.1:
        return "negligible"
    if v < 0.3:
        return "weak"
    return "moderate" if v < 0.5 else "strong"


def _conclusion(label: str, result: IndependenceResult, alpha: float) -> str:
    verdict = (
        f"{label} and survival are not independent (p < {alpha:g})"
        if result.p_value < alpha
        else f"The data do not show {label.lower()} and survival to be dependent (p ≥ {alpha:g})"
    )
    rates = ", ".join(f"{c} {r:.0%}" for c, r in result.survival_rate.items())
    return (
        f"{verdict}: chi² = {result.chi2:.1f} with {result.dof} degree(s) of freedom, "
        f"p = {result.p_value:.1e}. Survival: {rates}. Cramér's V = {result.cramers_v:.2f}, "
        f"a {_strength(result.cramers_v)} association."
    )


class TitanicChi2(
    JsonSpec[ContingencyTable, IndependenceTest, TitanicChi2TrainConfig, Passengers, Chi2Results]
):
    name, module, kind = "titanic-chi2", 3, "hypothesis-test"
    data_folders = ("titanic",)
    title = "Chi-squared tests of independence on Titanic survival"
    # Sex x survival on the Kaggle passenger list: rows female, male; columns died, survived.
    example_input = ContingencyTable(table=[[81, 233], [468, 109]])
    floors = (Floor("p_value_sex", maximum=1e-50),)
    # A table holds up to 50x50 counts: a request's cells bound its CPU and its answer.
    max_work, work_unit = 250_000, "table cells"

    def work(self, instance: ContingencyTable) -> int:
        return sum(len(row) for row in instance.table)

    def load_data(self, config: TitanicChi2TrainConfig, run: TrainingRun) -> Passengers:
        """The whole passenger list: a test of independence describes the table, not new data."""
        return load_titanic(run, run.data_path)

    def fit(
        self, config: TitanicChi2TrainConfig, data: Passengers, run: TrainingRun
    ) -> Chi2Results:
        run.step("testing sex x survival and class x survival")
        sexes = {"female": "female", "male": "male"}
        return Chi2Results(
            correction=config.correction,
            alpha=config.alpha,
            n_passengers=len(data),
            sex=_crosstab_test(data, "Sex", sexes, config.correction),
            pclass=_crosstab_test(data, "Pclass", CLASS_LABELS, config.correction),
        )

    def evaluate(
        self,
        artifact: Chi2Results,
        data: Passengers,
        config: TitanicChi2TrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:
        run.note(
            "Pearson's chi-squared test of independence (scipy.stats.chi2_contingency, "
            + ("with" if artifact.correction else "without")
            + " Yates' continuity correction) on all "
            f"{artifact.n_passengers} passengers of Kaggle's training list. There is no held-out "
            "split: the test describes the whole table rather than predicting unseen passengers."
        )
        tests = {"sex": artifact.sex, "class": artifact.pclass}
        for variable, result in tests.items():
            run.add_table(f"{variable}_x_survival", asdict(result))
            run.note(_conclusion(variable.capitalize(), result, artifact.alpha))
            _plot_test(run, f"{variable}_x_survival", f"{variable.capitalize()} x survival", result)
        return {
            f"{statistic}_{variable}": float(getattr(result, statistic))
            for statistic in ("p_value", "chi2", "cramers_v")
            for variable, result in tests.items()
        }

    def held_out(self, config: TitanicChi2TrainConfig, run: TrainingRun) -> HeldOut:
        # No split: evaluate reports the tests on the whole passenger list, so the tables
        # a client would send are built from all of it, as fit builds them.
        passengers = load_titanic(run, run.data_path)
        tables = {
            variable: crosstab(passengers, column).to_numpy(dtype=np.int64)
            for variable, column in (("sex", "Sex"), ("class", "Pclass"))
        }

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            metrics = {}
            for (variable, observed), answer in zip(tables.items(), answers, strict=True):
                metrics[f"p_value_{variable}"] = float(answer["p_value"])
                metrics[f"chi2_{variable}"] = float(answer["chi2"])
                metrics[f"cramers_v_{variable}"] = cramers_v(answer["chi2"], observed)
            return metrics

        instances = [
            {"table": observed.tolist(), "correction": config.correction}
            for observed in tables.values()
        ]
        return HeldOut(instances, score)

    def predict(
        self, artifact: Chi2Results, batch: Sequence[ContingencyTable]
    ) -> list[IndependenceTest]:
        outputs = []
        for instance in batch:
            observed = np.asarray(instance.table, dtype=np.float64)
            chi2, p_value, dof, expected = independence_test(observed, instance.correction)
            outputs.append(
                IndependenceTest(chi2=chi2, p_value=p_value, dof=dof, expected=expected.tolist())
            )
        return outputs


def _plot_test(run: TrainingRun, name: str, title: str, result: IndependenceResult) -> None:
    """Observed against expected counts, and the Pearson residuals that make up chi²."""
    observed = np.asarray(result.observed)
    expected = np.asarray(result.expected)
    residuals = np.asarray(result.pearson_residuals)
    figure, (bars, heat) = subplots(1, 2, figsize=(11, 4))
    positions = np.arange(len(result.categories))
    width = 0.38
    offsets = (np.arange(len(result.outcomes)) - 0.5) * width
    for k, (outcome, colour) in enumerate(zip(result.outcomes, ("C3", "C0"), strict=True)):
        bars.bar(positions + offsets[k], observed[:, k], width, color=colour, label=outcome)
    for k in range(len(result.outcomes)):  # after the observed bars, for the legend's order
        bars.bar(positions + offsets[k], expected[:, k], width, fill=False, linestyle="--",
                 label="expected if independent" if k == 0 else None)  # fmt: skip
    bars.set_xticks(positions, result.categories)
    bars.set(ylabel="passengers", title=f"{title}: observed vs expected counts")
    bars.grid(alpha=0.3, axis="y")
    bars.legend(fontsize=8)

    limit = float(np.abs(residuals).max())
    image = heat.imshow(residuals, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (i, j), value in np.ndenumerate(residuals):
        colour = "white" if abs(value) > 0.6 * limit else "black"  # legible on dark cells
        heat.text(j, i, f"{observed[i, j]} obs\n{expected[i, j]:.0f} exp\n{value:+.1f}",
                  ha="center", va="center", fontsize=8, color=colour)  # fmt: skip
    heat.set_xticks(range(len(result.outcomes)), result.outcomes)
    heat.set_yticks(range(len(result.categories)), result.categories)
    heat.set_title(
        f"Pearson residuals (obs - exp) / √exp\nχ² = {result.chi2:.1f}, p = {result.p_value:.1e}"
    )
    figure.colorbar(image, ax=heat, label="residual")
    run.add_plot(name, figure)
