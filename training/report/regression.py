"""The regression report: R², errors, predicted-against-actual and residual plots."""

import numpy as np

from training.report.figures import subplots
from training.run import TrainingRun


def report_regression(
    run: TrainingRun, y_true: np.ndarray, y_pred: np.ndarray, *, unit: str, prefix: str = "test"
) -> dict[str, float]:
    """`<prefix>_r2`, `_mae` and `_rmse`, with the two plots every regression report shows."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    metrics = {
        f"{prefix}_r2": float(r2_score(y_true, y_pred)),
        f"{prefix}_mae": float(mean_absolute_error(y_true, y_pred)),
        f"{prefix}_rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
    }
    figure, (left, right) = subplots(1, 2, figsize=(11, 4.4))
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    left.scatter(y_true, y_pred, s=12, alpha=0.6)
    left.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    left.set(xlabel=f"actual ({unit})", ylabel=f"predicted ({unit})",
             title=f"Held-out predictions (R² {metrics[f'{prefix}_r2']:.3f})")  # fmt: skip
    left.legend()
    residuals = y_true - y_pred
    right.scatter(y_pred, residuals, s=12, alpha=0.6)
    right.axhline(0, linestyle="--", color="grey")
    right.set(xlabel=f"predicted ({unit})", ylabel=f"actual - predicted ({unit})",
              title="Residuals")  # fmt: skip
    for axes in (left, right):
        axes.grid(alpha=0.3)
    figure.tight_layout()
    run.add_plot("predictions", figure)
    return metrics
