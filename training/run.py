"""TrainingRun: what a spec writes to while it trains (datasets used, plots, tables)."""

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ProgressHook = Callable[[str], None]


class TrainingRun:
    """Collects a run's lineage and report while the spec trains.

    Plots are rendered to PNG at once and the figure closed, so a long run does not
    hold dozens of matplotlib figures in memory.
    """

    def __init__(self, data_path: Path | None = None, on_step: ProgressHook | None = None) -> None:
        self.data_path = data_path
        """A user's copy of the dataset, used instead of the bundled one when set."""
        self.dataset_sha256: dict[str, str] = {}
        self.plots: dict[str, bytes] = {}
        self.tables: dict[str, Any] = {}
        self.notes: list[str] = []
        self._on_step = on_step

    def record_dataset(self, name: str, content: bytes) -> None:
        """Fingerprint the exact bytes the model trained on (lineage)."""
        self.dataset_sha256[name] = hashlib.sha256(content).hexdigest()

    def add_plot(self, name: str, figure: "Figure") -> None:
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        self.plots[name] = buffer.getvalue()

    def add_table(self, name: str, value: Any) -> None:
        """A JSON-serialisable table or summary shown on the report route."""
        json.dumps(value, allow_nan=False)  # fail at training time, not when serving
        self.tables[name] = value

    def note(self, text: str) -> None:
        """A plain-language finding for the report."""
        self.notes.append(text)

    def step(self, message: str) -> None:
        """Tell the progress display what the spec is doing now."""
        if self._on_step is not None:
            self._on_step(message)
