"""Structured logs: one JSON object per line, stamped with the request id and model."""

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
model_var: ContextVar[str | None] = ContextVar("model", default=None)


class ContextFilter(logging.Filter):
    """Copies the request's context variables onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.model = model_var.get()
        return True


class JsonFormatter(logging.Formatter):
    _EXTRA = ("request_id", "model", "method", "path", "status", "duration_ms", "version")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k in self._EXTRA if (v := getattr(record, k, None)) is not None})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(*, json_lines: bool, level: str) -> None:
    """Route the service's and uvicorn's loggers through one handler."""
    formatter = (
        {"()": JsonFormatter}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"context": {"()": ContextFilter}},
            "formatters": {"default": formatter},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "default",
                    "filters": ["context"],
                }
            },
            "loggers": {
                "service": {"handlers": ["stderr"], "level": level, "propagate": False},
                "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
                # Requests are logged once, by our middleware, with their request id.
                "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            },
        }
    )
