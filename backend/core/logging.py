"""One log format for gunicorn, uvicorn and the app: JSON lines (or plain text for a terminal)."""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any

import orjson

from backend.core.config import Settings

# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the line.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "color_message"}
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extras = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        }
        line = super().format(record)
        return f"{line} {extras}" if extras else line


def logging_config(settings: Settings) -> dict[str, Any]:
    """A dictConfig shared by gunicorn (logconfig_dict) and by the app when run without gunicorn."""
    formatter = "json" if settings.log_format == "json" else "text"
    handler = {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
    loggers = ("gunicorn.error", "uvicorn", "uvicorn.error", "medqa")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "backend.core.logging.JsonFormatter"},
            "text": {"()": "backend.core.logging.TextFormatter"},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": settings.log_level},
        "loggers": {
            # Our middleware writes one line per request, so the servers' own access logs stay off.
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            **{
                name: {"handlers": ["default"], "level": settings.log_level, "propagate": False}
                for name in loggers
            },
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"medqa.{name}")
