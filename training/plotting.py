"""Matplotlib set-up shared by the report plots: headless and consistent."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["new_figure", "plt"]


def new_figure(width: float = 6.4, height: float = 4.2) -> tuple[Figure, Axes]:
    figure, axes = plt.subplots(figsize=(width, height))
    axes.grid(alpha=0.3)
    return figure, axes
