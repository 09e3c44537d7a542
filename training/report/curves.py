"""Learning curves: per-epoch training and validation loss and accuracy of one or more runs."""

from collections.abc import Mapping, Sequence

from training.report.figures import subplots
from training.run import TrainingRun

History = Mapping[str, Sequence[float]]
"""Per-epoch series: `train_loss`, `val_loss`, and `train_accuracy`/`val_accuracy` if known."""


def plot_learning_curves(run: TrainingRun, histories: Mapping[str, History]) -> None:
    """Loss (and accuracy, when recorded) per epoch; one colour per run, dashed = validation."""
    metrics = [m for m in ("loss", "accuracy") if any(f"val_{m}" in h for h in histories.values())]
    figure, grid = subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.2), squeeze=False)
    for axes, metric in zip(grid[0], metrics, strict=True):
        for index, (label, history) in enumerate(histories.items()):
            colour = f"C{index}"
            for part, style in (("train", "-"), ("val", "--")):
                series = history.get(f"{part}_{metric}")
                if series:
                    epochs = range(1, len(series) + 1)
                    axes.plot(epochs, series, style, color=colour, label=f"{label}: {part}")
        axes.set(xlabel="epoch", ylabel=metric, title=f"{metric.capitalize()} per epoch")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    run.add_plot("learning_curves", figure)
    run.add_table(
        "learning_curves", {k: {m: list(v) for m, v in h.items()} for k, h in histories.items()}
    )
