"""TrainingRun: what a spec writes to while it trains (datasets used, plots, tables, progress)."""

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class ProgressListener(Protocol):
    """Receives a run's progress: the runner's phases, and steps within a phase.

    Phases are counted (data, fit, evaluate, publish for each stage), so a bar over
    them stays true whatever a spec reports inside a phase; `on_progress` carries what
    a spec says within one (a grid search, epoch 3 of 20), with a count when it has one.
    """

    def on_phase(self, phase: str) -> None: ...

    def on_progress(self, message: str, done: int | None, total: int | None) -> None: ...


class TrainingRun:
    """Collects a run's lineage and report while the spec trains.

    Plots are rendered to PNG at once and the figure closed, so a long run does not
    hold dozens of matplotlib figures in memory.
    """

    def __init__(
        self, data_path: Path | None = None, listener: ProgressListener | None = None
    ) -> None:
        self.data_path = data_path
        """A user's copy of the dataset, used instead of the bundled one when set."""
        self.dataset_sha256: dict[str, str] = {}
        self.plots: dict[str, bytes] = {}
        self.tables: dict[str, Any] = {}
        self.notes: list[str] = []
        self.libraries: set[str] = set()
        """Distributions beyond the defaults whose versions belong in the lineage."""
        self._listener = listener

    def record_dataset(self, name: str, content: bytes) -> None:
        """Fingerprint the exact bytes the model trained on (lineage)."""
        self.dataset_sha256[name] = hashlib.sha256(content).hexdigest()

    def record_library(self, *distributions: str) -> None:
        """Name libraries the model used (torch, transformers…) so lineage keeps their versions."""
        self.libraries.update(distributions)

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

    def phase(self, name: str) -> None:
        """The runner enters one of its phases (data, fit, evaluate, publish)."""
        if self._listener is not None:
            self._listener.on_phase(name)

    def step(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """Tell the progress display what the spec does now, and how far it is when known."""
        if self._listener is not None:
            self._listener.on_progress(message, done, total)
