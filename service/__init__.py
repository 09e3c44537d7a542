"""The HTTP service: typed routes built from the catalog, hot-swapped models, metrics."""

from service.app import create_app
from service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
