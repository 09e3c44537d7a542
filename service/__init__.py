"""The HTTP service: typed routes built from the catalog, hot-swapped models, metrics.

`create_app` is imported on first use: the `practica` command imports this package, and
its `--help` should not pay for loading every model's libraries.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.app import create_app
    from service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from service.app import create_app

        return create_app
    if name == "ServiceSettings":
        from service.settings import ServiceSettings

        return ServiceSettings
    raise AttributeError(f"module 'service' has no attribute {name!r}")
