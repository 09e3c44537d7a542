"""Datasets: loaders of the bundled data (or a user's full copy) and held-out splits."""

from training.data.requests import request_records
from training.data.splits import Holdout, SplitConfig, holdout

__all__ = ["Holdout", "SplitConfig", "holdout", "request_records"]
