"""Datasets: loaders of the bundled data (or a user's full copy) and held-out splits."""

from training.data.splits import Holdout, SplitConfig, holdout

__all__ = ["Holdout", "SplitConfig", "holdout"]
