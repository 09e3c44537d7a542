"""Matplotlib set-up shared by the report plots: headless, consistent, and imported lazily.

Model modules import the report builders at their top, and the server imports the model
modules; so matplotlib is loaded on the first figure, never by a serving process.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["new_figure", "subplots"]


def subplots(*args: Any, **kwargs: Any) -> Any:
    """`matplotlib.pyplot.subplots` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def new_figure(width: float = 6.4, height: float = 4.2) -> tuple["Figure", "Axes"]:
    figure, axes = subplots(figsize=(width, height))
    axes.grid(alpha=0.3)
    return figure, axes
