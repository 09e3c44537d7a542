"""Hyper-parameter search by stratified k-fold cross-validation, with its table and plot."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from training.report.figures import new_figure
from training.run import TrainingRun


@dataclass(frozen=True)
class SearchResult:
    """Every candidate's parameters with its CV mean and std, and the index of the winner."""

    candidates: list[dict[str, Any]]
    best_index: int

    @property
    def chosen(self) -> dict[str, Any]:
        return self.candidates[self.best_index]


@dataclass(frozen=True)
class Searched:
    """An estimator refitted with the parameters its cross-validated search chose.

    An artifact type as it stands: the estimator is stored by its framework, the search
    as typed JSON, so reports read `artifact.search.chosen`.
    """

    estimator: Any
    search: SearchResult


def grid_search(
    estimator: Any,
    grid: dict[str, list[Any]],
    X: Any,
    y: np.ndarray,
    *,
    folds: int,
    scoring: str,
    random_state: int,
    run: TrainingRun,
) -> Searched:
    """Refit the best of `grid` on all of `X`; candidates are keyed by the grid's last name part.

    `{"svm__C": [...]}` yields candidates like `{"C": 1.0, "cv_f1": 0.95, "cv_f1_std": 0.01}`
    where the score keys are `cv_<scoring>`.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    run.step(f"choosing {', '.join(k.rsplit('__', 1)[-1] for k in grid)} by {folds}-fold CV")
    search = GridSearchCV(
        estimator, grid, scoring=scoring,
        cv=StratifiedKFold(folds, shuffle=True, random_state=random_state),
    ).fit(X, y)  # fmt: skip
    results = search.cv_results_
    candidates = [
        {**{key.rsplit("__", 1)[-1]: _plain(value) for key, value in params.items()},
         f"cv_{scoring}": float(mean), f"cv_{scoring}_std": float(std)}
        for params, mean, std in zip(
            results["params"], results["mean_test_score"], results["std_test_score"], strict=True
        )
    ]  # fmt: skip
    return Searched(search.best_estimator_, SearchResult(candidates, int(search.best_index_)))


def report_search(
    run: TrainingRun,
    result: SearchResult,
    *,
    x: str,
    score: str,
    folds: int,
    series: str | None = None,
    log_x: bool = False,
    xlabel: str | None = None,
) -> dict[str, Any]:
    """The CV score (mean ± std) against one parameter, a line per value of `series`, with
    every candidate's table and a note on the winner, which it returns."""
    figure, axes = new_figure()
    groups = dict.fromkeys(c[series] for c in result.candidates) if series else {None: None}
    for group in groups:
        rows = [c for c in result.candidates if series is None or c[series] == group]
        axes.errorbar(
            [c[x] for c in rows], [c[score] for c in rows], yerr=[c[f"{score}_std"] for c in rows],
            marker="o", capsize=3, label=f"{series} = {group}" if series else None,
        )  # fmt: skip
    chosen = result.chosen
    axes.scatter([chosen[x]], [chosen[score]], s=160, facecolors="none", edgecolors="black",
                 zorder=3, label=f"chosen: {x} = {chosen[x]}")  # fmt: skip
    if log_x:
        axes.set_xscale("log")
    axes.set(xlabel=xlabel or x, ylabel=f"{score} (mean ± std over folds)",
             title=f"Choosing {x} by cross-validation")  # fmt: skip
    axes.legend()
    run.add_plot("cv_search", figure)
    run.add_table("cv_search", result.candidates)
    won = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                    for k, v in chosen.items() if not k.startswith("cv_"))  # fmt: skip
    run.note(
        f"{won} won {folds}-fold cross-validation: {score} {chosen[score]:.3f} "
        f"± {chosen[f'{score}_std']:.3f} over the folds."
    )
    return chosen


def _plain(value: Any) -> Any:
    """NumPy scalars from a parameter grid as plain JSON numbers."""
    return value.item() if isinstance(value, np.generic) else value
