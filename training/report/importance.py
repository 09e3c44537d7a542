"""Feature importance as a horizontal bar chart of the strongest features."""

from collections.abc import Sequence

import numpy as np

from training.report.figures import new_figure
from training.run import TrainingRun


def plot_importance(
    run: TrainingRun,
    names: Sequence[str] | np.ndarray,
    values: np.ndarray,
    *,
    top: int = 20,
    xlabel: str,
    title: str,
    signed: bool = False,
) -> list[dict[str, float | str]]:
    """Bars of the `top` features by |value|; also tabled. `signed` keeps the sign (weights)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(np.abs(values))[::-1][:top]
    figure, axes = new_figure(6.4, 0.3 * len(order) + 1.5)
    shown = order[::-1]
    colours = ["C3" if v < 0 else "C0" for v in values[shown]] if signed else "C0"
    axes.barh([str(names[i]) for i in shown], values[shown], color=colours)
    axes.set(xlabel=xlabel, title=title)
    run.add_plot("feature_importance", figure)
    table: list[dict[str, float | str]] = [
        {"feature": str(names[i]), "value": round(float(values[i]), 6)} for i in order
    ]
    run.add_table("feature_importance", table)
    return table
