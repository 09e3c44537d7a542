"""The classification report: accuracy, per-class scores, confusion matrix, ROC curve."""

from collections.abc import Sequence

import numpy as np

from training.report.figures import new_figure
from training.run import TrainingRun


def report_classification(
    run: TrainingRun,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    positive: str | None = None,
    what: str = "Held-out",
) -> dict[str, float]:
    """Accuracy and macro F1, a per-class table and a confusion matrix plot.

    `y_true` and `y_pred` hold class indices `0..n-1`; `labels` names them (default:
    the indices themselves). Naming a `positive` class adds its precision, recall and F1
    (`test_f1_<positive>`...): the scores that matter when it is the rare one.
    """
    from sklearn.metrics import (
        ConfusionMatrixDisplay,
        accuracy_score,
        f1_score,
        precision_recall_fscore_support,
    )

    n_classes = len(labels) if labels is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = list(labels) if labels is not None else [str(i) for i in range(n_classes)]
    indices = list(range(n_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0
    )
    run.add_table(
        "per_class",
        {
            name: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                   "f1": round(float(f), 4), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        },
    )  # fmt: skip
    accuracy = float(accuracy_score(y_true, y_pred))
    figure, axes = new_figure(4.4 + 0.25 * n_classes, 3.8 + 0.25 * n_classes)
    axes.grid(False)
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=indices, display_labels=names, ax=axes, colorbar=False,
        xticks_rotation=45 if n_classes > 4 else "horizontal",
    )  # fmt: skip
    axes.set_title(f"{what} confusion matrix (accuracy {accuracy:.3f})")
    run.add_plot("confusion_matrix", figure)
    metrics = {
        "test_accuracy": accuracy,
        "test_f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    if positive is not None:
        index = names.index(positive)
        missed = int(((y_true == index) & (y_pred != index)).sum())
        flagged = int(((y_true != index) & (y_pred == index)).sum())
        run.note(
            f"{what}: {metrics['test_accuracy']:.3f} accuracy on {len(y_true):,} rows; "
            f"{missed} {positive} rows were missed and {flagged} others taken for {positive}."
        )
        metrics |= {
            f"test_precision_{positive}": float(precision[index]),
            f"test_recall_{positive}": float(recall[index]),
            f"test_f1_{positive}": float(f1[index]),
        }
    return metrics


def report_roc(run: TrainingRun, y_true: np.ndarray, score: np.ndarray, *, positive: str) -> float:
    """The ROC curve of a binary score, plotted; returns its area."""
    from sklearn.metrics import roc_auc_score, roc_curve

    auc = float(roc_auc_score(y_true, score))
    false_positive, true_positive, _ = roc_curve(y_true, score)
    figure, axes = new_figure(5, 4.4)
    axes.plot(false_positive, true_positive, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel=f"true positive rate ({positive})",
             title="Held-out ROC curve")  # fmt: skip
    axes.legend()
    run.add_plot("roc_curve", figure)
    return auc
