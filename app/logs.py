"""Logging: one JSON object per line, every line of a request carrying its request id."""

from __future__ import annotations

import logging
import sys
from typing import Any

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED = {"asctime": "ts", "levelname": "level", "name": "logger"}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


def json_formatter() -> JsonFormatter:
    """The formatter of every Rotor log line (gunicorn's included, see gunicorn.conf.py)."""
    return JsonFormatter(FORMAT, rename_fields=RENAMED)


def skip_unused_record_fields() -> None:
    """Stop building LogRecord fields no Rotor line prints (caller, thread, process): the
    logging HOWTO's "Optimization" switches. The caller lookup walks the stack on every line,
    and an audit line is written on every refresh."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the root logger, unless something (gunicorn's logconfig_dict,
    a test runner) configured it already."""
    skip_unused_record_fields()
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_logconfig(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its error and access logs as JSON lines too."""
    skip_unused_record_fields()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.logs.json_formatter"}},
        "filters": {"request_id": {"()": "app.logs.RequestIdFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": level, "handlers": ["stderr"], "propagate": False},
        },
    }
