"""Logging: one JSON object per line, every line of a request carrying its request id."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, cast

from flask import has_request_context, request
from gunicorn.glogging import Logger as GunicornLogger
from pythonjsonlogger.json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED = {"asctime": "ts", "levelname": "level", "name": "logger"}
# Where the request's id waits in the WSGI environ (app.api.tracing puts it there).
REQUEST_ID = "rotor.request_id"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = request.environ.get(REQUEST_ID)
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


# Headers that carry credentials: never in an access line, whatever access_log_format says.
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrf-token"}
)
# WSGI environ entries that hold the query string (gunicorn's ``{name}e`` atoms).
_QUERY_ENVIRON = frozenset({"query_string"})
_URI_ENVIRON = frozenset({"raw_uri", "request_uri", "http_referer"})


def _without_query(uri: str) -> str:
    """A URI up to its query or fragment: tokens and passwords sent in a URL stay out."""
    return uri.partition("?")[0].partition("#")[0]


class AccessLogger(GunicornLogger):
    """gunicorn's logger (``logger_class`` in gunicorn.conf.py) whose access lines hold no
    secret: the request line and the referer without their query strings, no query string
    atom, no credential header (sent or received), whatever ``access_log_format`` asks for.
    Clients are told not to put tokens in URLs, but some will, and a log outlives the token.

    Access lines are written only when ``accesslog`` names a destination (GUNICORN_ACCESSLOG):
    gunicorn also writes them whenever a ``logconfig_dict`` is given, which Rotor always gives
    (its JSON lines), so every request paid for a line nobody asked for."""

    @property
    def access_log_enabled(self) -> bool:
        return bool(self.cfg.accesslog)

    def atoms(
        self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: Any
    ) -> Any:
        # A plain dict to us: the header and environ atoms ({name}i, ...) are keys the stubs'
        # TypedDict cannot list.
        atoms = cast(dict[str, Any], super().atoms(resp, req, environ, request_time))
        atoms["r"] = " ".join(
            (
                environ["REQUEST_METHOD"],
                _without_query(environ.get("RAW_URI", "")),
                environ["SERVER_PROTOCOL"],
            )
        )
        atoms["q"] = "-"
        atoms["f"] = _without_query(atoms["f"])
        for atom in atoms:
            if not (atom.startswith("{") and atom[-2:] in ("}i", "}o", "}e")):
                continue
            name = atom[1:-2]
            header = name.removeprefix("http_").replace("_", "-")
            if header in _CREDENTIAL_HEADERS or name in _QUERY_ENVIRON:
                atoms[atom] = "-"
            elif name in _URI_ENVIRON:
                atoms[atom] = _without_query(str(atoms[atom]))
        return atoms


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
